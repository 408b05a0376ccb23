"""`inv drill --plot FILE.png`: one timeline per scenario, drawn with matplotlib from the Records.

Every request at its send time and latency, coloured by the web server that answered, 503s and
failures apart, with a band below for the VIP holder.
"""

import os

from hafab.engine.errors import InputError
from hafab.outage.figures import holder_name, holder_timeline

WEB_COLOURS = ["#1f77b4", "#2ca02c", "#17becf", "#bcbd22", "#9467bd", "#8c564b"]
LB_COLOURS = ["#9467bd", "#e377c2", "#8c564b", "#7f7f7f"]
FAIL_COLOUR = "#d62728"
C503_COLOUR = "#ff7f0e"
NOBODY_COLOUR = "#dddddd"
SPLIT_COLOUR = "#000000"


def check_plot_path(path):
    """InputError unless matplotlib can be used and the PNG can be written (checked before anything runs)."""
    if not path.lower().endswith(".png"):
        raise InputError("--plot", f"{path}: must name a .png file")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise InputError("--plot", f"{path}: directory {directory} does not exist or is not writable")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot", "matplotlib is not installed: pip install -r requirements.txt") from None


def colours_for(records):
    """{web name: colour} and {lb name: colour}, stable across the scenarios."""
    webs = sorted({s.server for r in records for s in r.samples if s.server and s.status and s.status < 500})
    lbs = sorted({n for r in records for n in r.lb_names})
    return ({w: WEB_COLOURS[i % len(WEB_COLOURS)] for i, w in enumerate(webs)},
            {n: LB_COLOURS[i % len(LB_COLOURS)] for i, n in enumerate(lbs)})


def classify(sample, web_colours):
    """(label, colour) of one request for the plot."""
    if sample.status is None:
        return "no answer", FAIL_COLOUR
    if sample.status == 503:
        return "503", C503_COLOUR
    if sample.status >= 500:
        return f"{sample.status}", FAIL_COLOUR
    return sample.server or "?", web_colours.get(sample.server, "#444444")


def draw(records, path):
    """One timeline per scenario into one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    web_colours, lb_colours = colours_for(records)
    n = max(1, len(records))
    height = 3.0 * n + 0.8
    fig = plt.figure(figsize=(12, height))
    # per scenario: the requests, the VIP band, and a spacer for the next title
    grid = fig.add_gridspec(3 * n, 1, height_ratios=[5, 1, 1.6] * n, hspace=0.1,
                            top=1 - 0.7 / height, bottom=0.1 / height, left=0.07, right=0.98)
    for i, record in enumerate(records):
        ax = fig.add_subplot(grid[3 * i])
        band = fig.add_subplot(grid[3 * i + 1], sharex=ax)
        _timeline(ax, band, record, web_colours, lb_colours)
    if not records:
        ax = fig.add_subplot(grid[0])
        ax.text(0.5, 0.5, "no scenario ran", ha="center", va="center")
    handles = [Patch(color=c, label=f"served by {w}") for w, c in web_colours.items()]
    handles += [Patch(color=C503_COLOUR, label="503"), Patch(color=FAIL_COLOUR, label="failed / no answer")]
    handles += [Patch(color=c, label=f"VIP on {lb}") for lb, c in lb_colours.items()]
    handles += [Patch(color=NOBODY_COLOUR, label="VIP on nobody")]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(handles), 7),
               fontsize=8, frameon=False)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _timeline(ax, band, record, web_colours, lb_colours):
    _requests(ax, record, web_colours)
    _vip_band(band, record, lb_colours)


def _requests(ax, record, web_colours):
    """The scatter of requests (latency against seconds since the break) and the title with the figures."""
    t0 = record.t_break
    groups = {}
    for s in record.samples:
        label, colour = classify(s, web_colours)
        xs, ys, _ = groups.setdefault(label, ([], [], colour))
        xs.append(s.sent - t0)
        ys.append(max(s.latency * 1000, 0.1))
    for label, (xs, ys, colour) in sorted(groups.items()):
        ax.scatter(xs, ys, s=5, color=colour, label=label, linewidths=0)
    ax.set_yscale("log")
    ax.set_ylabel("latency ms", fontsize=8)
    ax.axvline(0, color=FAIL_COLOUR, linestyle="--", linewidth=1)
    ax.axvline(record.t_restore - t0, color="#2ca02c", linestyle="--", linewidth=1)
    if record.t_healthy:
        ax.axvline(record.t_healthy - t0, color="#2ca02c", linestyle=":", linewidth=1)
    report = record.report
    probe = report["probe"]
    verdict = "held" if report["held"] else "NOT held"
    ax.set_title(f"{record.name}: {verdict}; {probe['requests']} requests, {probe['failed']} failed, "
                 f"window {probe['window_ms']:g} ms (break at 0, restore at {record.t_restore - t0:.1f} s)",
                 fontsize=9, loc="left")
    ax.tick_params(labelbottom=False, labelsize=7)


def _vip_band(band, record, lb_colours):
    """The band of who held the VIP, coloured per LB (grey: nobody, black: several)."""
    t0 = record.t_break
    timeline = holder_timeline(record.watch, record.lb_names)
    end = record.t_end
    for j, (when, holders) in enumerate(timeline):
        until = timeline[j + 1][0] if j + 1 < len(timeline) else end
        colour = (NOBODY_COLOUR if not holders else lb_colours.get(holders[0]) if len(holders) == 1
                  else SPLIT_COLOUR)
        band.broken_barh([(when - t0, until - when)], (0, 1), color=colour)
        if until - when > 0.4:
            band.text((when + until) / 2 - t0, 0.5, holder_name(holders) or "nobody", ha="center",
                      va="center", fontsize=7)
    band.set_yticks([])
    band.set_ylabel("VIP", fontsize=8)
    band.tick_params(labelsize=7)
    band.set_xlim(record.t_start - t0, end - t0)
    band.set_xlabel("seconds since the break", fontsize=8)
