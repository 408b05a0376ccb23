"""drill --plot draws one timeline per scenario from Records (synthetic here, no lab)."""

import numpy
import pytest

from hafab.engine.errors import InputError
from hafab.outage import plot
from hafab.outage.execution import Record
from hafab.outage.load import Sample

matplotlib = pytest.importorskip("matplotlib")


def record(name):
    samples = []
    for i in range(600):
        t = i * 0.01
        if 1.0 <= t < 1.3:
            samples.append(Sample(t, None, None, 1.0, "timeout after 1 s"))
        elif 3.0 <= t < 3.5:
            samples.append(Sample(t, 503, "503 Service Unavailable", 0.001))
        else:
            samples.append(Sample(t, 200, "web1" if i % 2 else "web2", 0.001 + (i % 7) / 1000))
    watch = [(0.0, "hap1", True), (0.0, "hap2", False), (1.2, "hap1", False), (1.25, "hap2", True)]
    report = {"held": True, "probe": {"requests": 600, "failed": 80, "window_ms": 300.0}}
    return Record(name, samples, watch, ["hap1", "hap2"], 0.0, 1.0, 1.05, 4.0, 4.5, 6.0, 0.01, report)


def test_plot_has_the_colours_of_servers_failures_and_vip(tmp_path):
    from matplotlib import image
    path = tmp_path / "drill.png"
    plot.draw([record("hap1 down"), record("web1+web2 down")], str(path))
    pixels = image.imread(str(path))
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600
    rgb = (pixels[..., :3] * 255).astype(int).reshape(-1, 3)
    present = {tuple(c) for c in numpy.unique(rgb, axis=0)}
    for colour in (plot.WEB_COLOURS[0], plot.WEB_COLOURS[1], plot.FAIL_COLOUR, plot.C503_COLOUR,
                   plot.LB_COLOURS[0], plot.LB_COLOURS[1]):
        wanted = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert wanted in present, colour


@pytest.mark.parametrize("name", ["x.jpg", "missing/x.png"])
def test_plot_path_refused(tmp_path, name):
    with pytest.raises(InputError):
        plot.check_plot_path(str(tmp_path / name))


def test_plot_path_accepted(tmp_path):
    plot.check_plot_path(str(tmp_path / "x.png"))
