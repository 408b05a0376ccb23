"""Names of everything a lab owns, derived from its inventory.

Device names are at most 15 characters (the kernel's limit) and carry a tag made from the lab's subnet,
so two labs on different subnets never share a bridge, veth, netns or data directory.
"""

import hashlib
import ipaddress
import os

DATA_ROOT = "/var/lib/hafab"
NETNS_DIR = "/run/netns"


def tag(inventory):
    """Six hex digits naming this lab's subnet."""
    return hashlib.sha1(inventory.cluster["subnet"].encode()).hexdigest()[:6]


def lab_dir(inventory):
    return os.path.join(inventory.root, ".lab")


def state_path(inventory):
    return os.path.join(lab_dir(inventory), "state.json")


def bridge(inventory):
    return f"hafab-{tag(inventory)}"  # 12 chars


def bridge_address(inventory):
    """The subnet's first address with its prefix, e.g. 192.168.50.1/24."""
    net = ipaddress.IPv4Network(inventory.cluster["subnet"])
    return f"{net.network_address + 1}/{net.prefixlen}"


def prefixlen(inventory):
    return ipaddress.IPv4Network(inventory.cluster["subnet"]).prefixlen


def veth(inventory, host):
    """Machine-side end of the host's veth: tag + the host's offset in the subnet, in hex."""
    net = ipaddress.IPv4Network(inventory.cluster["subnet"])
    offset = int(ipaddress.IPv4Address(inventory.hosts[host].address)) - int(net.network_address)
    return f"hv{tag(inventory)}{offset:x}"  # at most 2 + 6 + 6 chars


def netns(inventory, host):
    return f"hafab-{tag(inventory)}-{host}"


def netns_path(inventory, host):
    return os.path.join(NETNS_DIR, netns(inventory, host))


def lab_data_dir(inventory):
    return os.path.join(DATA_ROOT, f"lab-{tag(inventory)}")


def host_dir(inventory, host):
    """upper/, work/ (overlay), root/ (the mounted overlay) and console.log of one host."""
    return os.path.join(lab_data_dir(inventory), host)


def mac(inventory, *parts):
    """A fixed, locally administered unicast MAC for (lab, parts...)."""
    digest = hashlib.sha1("/".join((tag(inventory),) + parts).encode()).hexdigest()
    return "02:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))


def cgroup_leaf(inventory, host):
    return f"hafab-{tag(inventory)}-{host}"
