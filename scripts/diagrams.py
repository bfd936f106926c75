"""Architecture diagrams of the book's methods, one visual style, saved as SVG under book/figures/.

    python scripts/diagrams.py               # regenerate every SVG (byte for byte the same)
    python scripts/diagrams.py --png DIR     # also save PNG copies into DIR, to look at them

Colours (matplotlib's tab10): source data and paths blue, target orange, shared network parts grey,
losses green, adversarial parts red. Coordinates are inches on a canvas about 7 in wide.
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "book" / "figures"
SOURCE, TARGET, SHARED, LOSS, ADVERSARIAL = "tab:blue", "tab:orange", "tab:gray", "tab:green", "tab:red"
FONT, SMALL = 10, 9
plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "tlbook-diagrams", "font.size": FONT})


class Box:
    """A drawn box; its sides' points (``left`` etc., or ``at(side, offset)``) are where arrows attach."""

    def __init__(self, x, y, w, h):
        self.x, self.y, self.w, self.h = x, y, w, h

    def at(self, side, offset=0.0):
        """A point on a side: offset along it from its middle (up for left/right, right for top/bottom)."""
        return {"left": (self.x - self.w / 2, self.y + offset), "right": (self.x + self.w / 2, self.y + offset),
                "top": (self.x + offset, self.y + self.h / 2), "bottom": (self.x + offset, self.y - self.h / 2)}[side]

    left = property(lambda self: self.at("left"))
    right = property(lambda self: self.at("right"))
    top = property(lambda self: self.at("top"))
    bottom = property(lambda self: self.at("bottom"))


class Diagram:
    """One figure; x and y in inches from its lower-left corner."""

    def __init__(self, width, height):
        self.fig = plt.figure(figsize=(width, height))
        self.ax = self.fig.add_axes((0, 0, 1, 1), xlim=(0, width), ylim=(0, height))
        self.ax.axis("off")

    def box(self, x, y, text, sub=None, colour=SHARED, w=1.1, h=None, rounded=False, dashed=False):
        """A network part (or data) centred at (x, y): its name, and optionally a second, smaller line."""
        h = h or (0.62 if sub else 0.42)
        style = "round,pad=0,rounding_size=0.12" if rounded else "square,pad=0"
        self.ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, lw=1.4,
                                         ec=colour, fc=to_rgba(colour, 0.13), ls="--" if dashed else "-"))
        if sub:
            self.ax.text(x, y + 0.11, text, ha="center", va="center", fontsize=FONT)
            self.ax.text(x, y - 0.14, sub, ha="center", va="center", fontsize=SMALL, color="0.25")
        else:
            self.ax.text(x, y, text, ha="center", va="center", fontsize=FONT)
        return Box(x, y, w, h)

    def loss(self, x, y, text, sub=None, w=1.1, h=None):
        """A loss: a rounded green box."""
        return self.box(x, y, text, sub, colour=LOSS, w=w, h=h, rounded=True)

    def arrow(self, *points, colour=SHARED, label=None, dashed=False, at=0.5, offset=(0, 0.12), ha="center"):
        """An arrow along the points (an elbow when more than two); a label on the segment at fraction `at`."""
        for a, b in zip(points[:-2], points[1:-1]):
            self.ax.plot([a[0], b[0]], [a[1], b[1]], color=colour, lw=1.4, ls="--" if dashed else "-",
                         solid_capstyle="butt")
        self.ax.annotate("", xy=points[-1], xytext=points[-2], arrowprops=dict(
            arrowstyle="-|>,head_length=0.45,head_width=0.22", color=colour, lw=1.4, shrinkA=0, shrinkB=0,
            ls="--" if dashed else "-"))
        if label:
            a, b = (points[0], points[1]) if len(points) == 2 else (points[-2], points[-1])
            x, y = a[0] + at * (b[0] - a[0]) + offset[0], a[1] + at * (b[1] - a[1]) + offset[1]
            self.ax.text(x, y, label, ha=ha, va="center", fontsize=SMALL, color=colour)

    def text(self, x, y, text, colour="0.15", size=SMALL, ha="center"):
        self.ax.text(x, y, text, ha=ha, va="center", fontsize=size, color=colour)

    def save(self, name, png=None):
        self.fig.savefig(OUT / name, format="svg", bbox_inches="tight", metadata={"Date": None})
        if png:
            self.fig.savefig(Path(png) / name.replace(".svg", ".png"), dpi=100, bbox_inches="tight")
        plt.close(self.fig)


def discrepancy(png=None):
    """DDC, DAN, Deep CORAL, CMD: one network, two streams, CE on the source plus D on one layer."""
    d = Diagram(7.2, 3.4)
    xs = d.box(0.5, 2.35, "source $X^s$", "labelled", SOURCE, w=1.0)
    xt = d.box(0.5, 1.05, "target $X^t$", "unlabelled", TARGET, w=1.0)
    layers = [("convolutions", None, 1.825, 1.05), ("bottleneck", "adaptation layer", 3.25, 1.3),
              ("fc1", None, 4.475, 0.65), ("fc2", None, 5.375, 0.65), ("class", "scores", 6.5, 1.0)]
    boxes = [d.box(x, 1.7, name, sub, w=w, h=0.62) for name, sub, x, w in layers]
    d.arrow(xs.right, boxes[0].at("left", 0.15), colour=SOURCE)
    d.arrow(xt.right, boxes[0].at("left", -0.15), colour=TARGET)
    for a, b in zip(boxes, boxes[1:]):
        d.arrow(a.at("right", 0.12), b.at("left", 0.12), colour=SOURCE)
        d.arrow(a.at("right", -0.12), b.at("left", -0.12), colour=TARGET)
    d.text(3.7, 2.2, "one network, both streams (the same weights)", colour="0.35")
    ce = d.loss(6.5, 2.95, "cross-entropy", "with labels $y^s$", w=1.25)
    d.arrow(boxes[-1].top, ce.bottom, colour=SOURCE, label="source rows", offset=(-0.08, 0), ha="right")
    disc = d.loss(3.25, 0.45, r"$D(h^s, h^t)$", "D: linear MMD (DDC), MK-MMD on several layers (DAN), CORAL, CMD",
                  w=4.95)
    d.arrow(boxes[1].at("bottom", -0.15), (boxes[1].x - 0.15, disc.y + disc.h / 2), colour=SOURCE,
            label="$h^s$", offset=(-0.17, 0))
    d.arrow(boxes[1].at("bottom", 0.15), (boxes[1].x + 0.15, disc.y + disc.h / 2), colour=TARGET,
            label="$h^t$", offset=(0.17, 0))
    d.text(6.5, 0.45, r"total $=$ CE $+\ \lambda\cdot D$", colour=LOSS, size=FONT)
    d.save("discrepancy.svg", png)


def dann(png=None):
    """DANN: a label predictor and, behind a gradient reversal layer, a domain classifier."""
    d = Diagram(7.2, 3.5)
    xs = d.box(0.5, 2.25, "source $x^s$", colour=SOURCE, w=1.0)
    xt = d.box(0.5, 1.55, "target $x^t$", colour=TARGET, w=1.0)
    gf = d.box(1.85, 1.9, "feature", "extractor $G_f$", w=1.05, h=0.7)
    f = d.box(3.15, 1.9, "features $f$", w=1.0)
    d.arrow(xs.right, gf.at("left", 0.2), colour=SOURCE)
    d.arrow(xt.right, gf.at("left", -0.2), colour=TARGET)
    d.arrow(gf.right, f.left)
    gy = d.box(4.45, 3.05, "label", "predictor $G_y$", w=1.05)
    scores = d.box(5.65, 3.05, "class scores", w=1.0)
    ce = d.loss(6.5, 1.9, "cross-entropy", "source rows only", w=1.25)
    d.arrow(f.top, (f.x, gy.y), gy.left)
    d.arrow(gy.right, scores.left)
    d.arrow(scores.right, (ce.x, scores.y), ce.top, colour=SOURCE)
    grl = d.box(4.45, 1.15, "gradient reversal $R_\\lambda$", "forward: identity", ADVERSARIAL, w=1.7)
    gd = d.box(4.45, 0.3, "domain classifier $G_d$", colour=ADVERSARIAL, w=1.7, h=0.4)
    d.arrow(f.at("bottom", 0.2), (f.x + 0.2, grl.y + 0.1), grl.at("left", 0.1))
    d.arrow(grl.bottom, gd.top)
    ld = d.loss(6.4, gd.y, r"domain loss $L_d$", "source = 0, target = 1", w=1.5)
    d.arrow(gd.right, ld.left)
    d.arrow(grl.at("left", -0.15), (f.x - 0.2, grl.y - 0.15), f.at("bottom", -0.2), colour=ADVERSARIAL, dashed=True,
            label=r"backward: $-\lambda\,\partial L_d/\partial f$", at=0.4, offset=(-0.08, 0), ha="right")
    d.save("dann.svg", png)


def sdt(png=None):
    """SDT: classification, soft-label and alternating domain-confusion losses on one network."""
    d = Diagram(7.2, 4.1)
    xs = d.box(0.7, 3.4, "source images", "labelled", SOURCE, w=1.4)
    xl = d.box(0.7, 2.25, "few target images", "labelled, $k$ per class", TARGET, w=1.4)
    xt = d.box(0.7, 1.1, "target images", "unlabelled", TARGET, w=1.4)
    net = d.box(2.05, 2.25, "shared", "network", w=0.8, h=2.9)
    for b, c in ((xs, SOURCE), (xl, TARGET), (xt, TARGET)):
        d.arrow(b.right, (net.x - net.w / 2, b.y), colour=c)
    scores = d.box(3.25, 3.3, "class scores $z$", w=1.1, h=0.42)
    feats = d.box(3.25, 1.1, "features", w=1.0)
    d.arrow((net.x + net.w / 2, scores.y), scores.left)
    d.arrow((net.x + net.w / 2, feats.y), feats.left)
    ce = d.loss(6.3, 3.75, "(a) classification", "labelled source + target", w=1.8)
    soft = d.loss(6.3, 2.75, r"(b) soft-label loss", r"softmax$(z/\tau)$ vs $l^{(y)}$", w=1.8)
    d.arrow(scores.at("right", 0.1), (4.15, scores.y + 0.1), (4.15, ce.y), ce.left)
    d.arrow(scores.at("right", -0.1), (4.15, scores.y - 0.1), (4.15, soft.y), soft.left, colour=TARGET,
            label="labelled target", offset=(0, 0.13))
    labels = d.box(6.3, 1.85, "source model", "average soft labels $l^{(k)}$", SOURCE, w=1.8)
    d.arrow(labels.top, soft.bottom, colour=SOURCE)
    dc = d.box(4.35, 1.1, "domain", "classifier", ADVERSARIAL, w=0.95)
    d.arrow(feats.right, dc.left)
    conf = d.loss(6.15, 1.1, "(c) domain losses", "$L_D$ (classifier), $L_{conf}$ (features)", w=2.05)
    d.arrow(dc.right, conf.left)
    d.text(3.6, 0.25, "alternating updates: the domain classifier learns to tell the domains apart ($L_D$),\n"
           "then the features are trained to make its output uniform ($L_{conf}$)", colour=ADVERSARIAL)
    d.save("sdt.svg", png)


def pixelda(png=None):
    """PixelDA: a generator renders source images as target images; D and T judge them."""
    d = Diagram(7.2, 3.9)
    xs = d.box(0.55, 1.75, "source $x^s$", "labelled", SOURCE, w=1.05)
    z = d.box(1.95, 2.8, "noise $z$", w=0.9)
    g = d.box(1.95, 1.75, "generator $G$", colour=ADVERSARIAL, w=1.1)
    fake = d.box(3.5, 1.75, "$G(x^s, z)$", "fake, target style", TARGET, w=1.35, dashed=True)
    d.arrow(xs.right, g.left, colour=SOURCE)
    d.arrow(z.bottom, g.top)
    d.arrow(g.right, fake.left)
    disc = d.box(5.05, 1.75, "discriminator", "$D$", ADVERSARIAL, w=1.1)
    xt = d.box(5.05, 0.55, "real target $x^t$", colour=TARGET, w=1.35)
    ld = d.loss(6.45, 1.75, "adversarial", "loss $L_d$", w=1.05)
    d.arrow(fake.right, disc.left)
    d.arrow(xt.top, disc.bottom, colour=TARGET)
    d.arrow(disc.right, ld.left)
    t = d.box(5.05, 3.35, "task", "classifier $T$", w=1.1)
    lt = d.loss(6.45, 3.35, "task loss $L_t$", "source labels $y^s$", w=1.15)
    d.arrow(xs.top, (xs.x, t.y), t.left, colour=SOURCE)
    d.arrow(fake.top, (fake.x, t.y - 0.2), t.at("left", -0.2), colour=TARGET)
    d.arrow(t.right, lt.left)
    lc = d.loss(2.05, 0.55, "content loss $L_c$", "masked, between $x^s$ and $G(x^s, z)$", w=2.5)
    d.arrow(xs.bottom, (xs.x, lc.y), lc.left, colour=SOURCE)
    d.arrow(fake.bottom, (fake.x, lc.y + 0.12), (lc.x + lc.w / 2, lc.y + 0.12), colour=TARGET)
    d.save("pixelda.svg", png)


def dsn(png=None):
    """DSN: private and shared encoders, a shared decoder, and four losses."""
    d = Diagram(7.2, 5.1)
    rows = {"hp_s": 4.75, "x_s": 4.05, "hc_s": 3.35, "ec": 2.55, "hc_t": 1.75, "x_t": 1.05, "hp_t": 0.35}
    xs = d.box(0.45, rows["x_s"], "source", "$x^s$", SOURCE, w=0.85)
    xt = d.box(0.45, rows["x_t"], "target", "$x^t$", TARGET, w=0.85)
    eps = d.box(1.75, rows["hp_s"], "private", "encoder $E_p^s$", SOURCE, w=1.05)
    ept = d.box(1.75, rows["hp_t"], "private", "encoder $E_p^t$", TARGET, w=1.05)
    ec = d.box(1.75, rows["ec"], "shared", "encoder $E_c$", w=1.05)
    d.arrow(xs.at("right", 0.1), (1.05, rows["x_s"] + 0.1), (1.05, eps.y), eps.left, colour=SOURCE)
    d.arrow(xs.at("right", -0.1), (1.0, rows["x_s"] - 0.1), (1.0, ec.y + 0.15), ec.at("left", 0.15), colour=SOURCE)
    d.arrow(xt.at("right", -0.1), (1.05, rows["x_t"] - 0.1), (1.05, ept.y), ept.left, colour=TARGET)
    d.arrow(xt.at("right", 0.1), (1.0, rows["x_t"] + 0.1), (1.0, ec.y - 0.15), ec.at("left", -0.15), colour=TARGET)
    hps = d.box(3.05, rows["hp_s"], "$h_p^s$", colour=SOURCE, w=0.6)
    hcs = d.box(3.05, rows["hc_s"], "$h_c^s$", colour=SOURCE, w=0.6)
    hct = d.box(3.05, rows["hc_t"], "$h_c^t$", colour=TARGET, w=0.6)
    hpt = d.box(3.05, rows["hp_t"], "$h_p^t$", colour=TARGET, w=0.6)
    d.arrow(eps.right, hps.left, colour=SOURCE)
    d.arrow(ept.right, hpt.left, colour=TARGET)
    d.arrow(ec.at("top", 0.2), (ec.x + 0.2, hcs.y), hcs.left, colour=SOURCE)
    d.arrow(ec.at("bottom", 0.2), (ec.x + 0.2, hct.y), hct.left, colour=TARGET)
    for hp, hc, y, c in ((hps, hcs, rows["x_s"], SOURCE), (hpt, hct, rows["x_t"], TARGET)):  # difference loss
        diff = d.loss(2.2, y, "$L_{diff}$", "orthogonal", w=0.85, h=0.52)
        top, bottom = (hp, hc) if hp.y > hc.y else (hc, hp)
        d.arrow(top.at("bottom", -0.15), (top.x - 0.15, y), diff.right, colour=c)
        d.arrow(bottom.at("top", -0.15), (bottom.x - 0.15, y), diff.right, colour=c)
    dec_s = d.box(4.55, rows["x_s"], "shared decoder", "$D(h_c^s + h_p^s)$", w=1.35)
    dec_t = d.box(4.55, rows["x_t"], "shared decoder", "$D(h_c^t + h_p^t)$", w=1.35)
    for hp, hc, dec, c in ((hps, hcs, dec_s, SOURCE), (hpt, hct, dec_t, TARGET)):
        sign = 1 if dec is dec_s else -1
        d.arrow(hp.right, (dec.x, hp.y), dec.at("top" if sign > 0 else "bottom"), colour=c)
        d.arrow(hc.at("right", sign * 0.1), (3.7, hc.y + sign * 0.1), (3.7, dec.y), dec.left, colour=c)
    rec_s = d.loss(6.4, rows["x_s"], r"$L_{recon}$ vs $x^s$", "scale-invariant MSE", w=1.45)
    rec_t = d.loss(6.4, rows["x_t"], r"$L_{recon}$ vs $x^t$", "scale-invariant MSE", w=1.45)
    d.arrow(dec_s.right, rec_s.left)
    d.arrow(dec_t.right, rec_t.left)
    sim = d.box(4.55, rows["ec"], "reversal $R_\\lambda$ +", "domain classifier", ADVERSARIAL, w=1.35)
    d.arrow(hcs.at("right", -0.12), (3.45, hcs.y - 0.12), (3.45, sim.y + 0.12), sim.at("left", 0.12), colour=SOURCE)
    d.arrow(hct.at("right", 0.12), (3.45, hct.y + 0.12), (3.45, sim.y - 0.12), sim.at("left", -0.12), colour=TARGET)
    lsim = d.loss(6.4, rows["ec"], "$L_{similarity}$", "as DANN", w=1.45)
    d.arrow(sim.right, lsim.left)
    clf = d.box(4.55, hcs.y, "classifier $G$", w=1.35, h=0.36)
    d.arrow(hcs.right, clf.left, colour=SOURCE)
    task = d.loss(6.4, hcs.y, "$L_{task}$, labels $y^s$", w=1.45, h=0.36)
    d.arrow(clf.right, task.left, colour=SOURCE)
    d.save("dsn.svg", png)


DIAGRAMS = [discrepancy, dann, sdt, pixelda, dsn]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--png", help="also save PNG copies into this folder")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.png:
        Path(args.png).mkdir(parents=True, exist_ok=True)
    for draw in DIAGRAMS:
        draw(args.png)
