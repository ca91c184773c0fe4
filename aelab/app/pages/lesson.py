"""The lesson path: the article's ideas in its order, each beside the page that shows it.

Eight steps, from what an autoencoder is to what it is used for. Each is a few sentences in
the project's own words, at most one formula, something to try and something to look for,
and a link that opens the page that shows it, already set up through the page's URL state
(and keeping the language, presenter mode and workspace of this session).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from aelab.app import labstate, resources
from aelab.app.pages import Page, discover
from aelab.i18n import N_, _

PAGE = Page(N_("Lesson path"), ":material/school:", "lesson", prefix="le_", order=5)


@dataclass(frozen=True)
class Step:
    """One idea of the article and the page set up to show it."""

    title: str
    idea: str
    tries: str  # what to do on the page
    look: str  # what to watch for there
    page: str  # the target page's url_path
    link: str  # the link's label
    query: dict[str, str] = field(default_factory=dict)  # the target page's URL state
    formula: str = ""  # LaTeX, not translated
    formula_words: str = ""  # what the formula's symbols are


STEPS = (
    Step(
        N_("What an autoencoder is"),
        N_(r"An autoencoder is a network trained to give back its own input. The encoder $f$ squeezes an image $x$ "
           r"into a short code $z = f(x)$; the decoder $g$ rebuilds an image $\hat x = g(z)$ from that code. "
           r"Training lowers a loss $L$ that grows with the difference between $x$ and $\hat x$, so no labels are "
           r"needed."),
        N_("Drag the probe across the map of ae-2d, or click a dot to put the probe on that digit's code."),
        N_("Every dot is one digit, placed at its code of just two numbers; beside the map is the 28x28 image the "
           "decoder draws from the point under the probe."),
        "explore", N_("Latent explorer, ae-2d"), {"models": "ae-2d"},
        r"\min_{f,\,g}\; L\big(x,\ g(f(x))\big)",
        N_("The loss compares each input $x$ with $g(f(x))$, what the network rebuilt from its own code."),
    ),
    Step(
        N_("Undercomplete and overcomplete"),
        N_("The size $d$ of the code decides what the autoencoder can get away with. With $d$ below the input's "
           "size (784 pixels here) it is undercomplete: it cannot keep everything, so it has to keep what digits "
           "have in common. With a code as large as the input or larger it is overcomplete, and simply copying the "
           "input (the identity) would score almost perfectly while learning nothing about digits."),
        N_("Switch the probe set between held-out digits and noise, and move the code size from 16 to 1024 units."),
        N_("Whether the largest autoencoders copy images that are not digits. The page measures it as R² "
           "(1 is a perfect copy) and says which sets are copied."),
        "identity", N_("Identity trap, noise images"), {"inputs": "noise", "units": "1024"},
        r"x \in \mathbb{R}^{784} \;\xrightarrow{\ f\ }\; z \in \mathbb{R}^{d} \;\xrightarrow{\ g\ }\;"
        r" \hat x \in \mathbb{R}^{784}",
        N_("784 pixels in, a code of $d$ numbers, 784 pixels out. With $d < 784$ the code is a bottleneck "
           "(undercomplete); with $d > 784$ it is wider than the input (overcomplete)."),
    ),
    Step(
        N_("The reconstruction losses"),
        N_("The loss decides what counts as a good copy. The article lists five: mean squared error (MSE), cross "
           "entropy, log likelihood (binary cross entropy over the pixels), KL divergence and cosine similarity. "
           "Here five 16-D autoencoders that share everything but the loss are trained on the same digits, so any "
           "difference in what they give back comes from the loss."),
        N_("The link dims every input to 50% of its ink: compare the five models' reconstructions, then draw new "
           "digits."),
        N_("Which reconstructions keep the input's brightness. Cosine similarity and the two losses that compare "
           "normalised images do not change when an image is made brighter or dimmer, so nothing in their training "
           "asks for the right brightness."),
        "losses", N_("Five losses, input at 50%"), {"bright": "0.5"},
        r"\sum_{i=1}^{784} (x_i - \hat x_i)^2",
        N_(r"The squared error, summed over the 784 pixels ($x_i$ a pixel of the input, $\hat x_i$ the same pixel "
           r"rebuilt); the mean squared error divides it by 784. The losses page shows all five formulas."),
    ),
    Step(
        N_("Sparse autoencoders"),
        N_(r"A sparse autoencoder (SAE) may have many code units but pays for using them: a penalty on the code "
           r"is added to the reconstruction loss, weighted by $\lambda$. The heavier the penalty, the fewer units any "
           r"one digit turns on; at the heaviest weights here most of them stay at zero. Each model has 128 units; the L1 penalty adds up the absolute values of the code, "
           r"the KL penalty pulls each unit's average activation toward a target rate $\rho$."),
        N_("Start at weight 0 (no penalty) and move the sparsity weight up stop by stop to 1; then try the KL "
           "penalty."),
        N_("How the number of units on per digit changes, what each unit draws, and the cost curve at the "
           "bottom: the reconstruction error at each weight (in nats, natural-log units of information; lower "
           "is better)."),
        "sparsity", N_("Sparsity lab, L1 at weight 0"), {"penalty": "l1", "weight": "0"},
        r"L\big(x, g(f(x))\big) + \lambda \sum_{j} |z_j|",
        N_(r"The second term grows with every unit that is on, so $\lambda$ sets the price of an active unit."),
    ),
    Step(
        N_("Denoising autoencoders"),
        N_("Instead of adding a penalty, a denoising autoencoder (DAE) changes the task. It is given a damaged copy "
           "of each digit but scored against the clean one, so copying its input no longer earns a good score and "
           "it has to learn what digits look like, even with a large code."),
        N_("Slide the noise level from 0 to 1, and switch between Gaussian noise, masking and salt and pepper."),
        N_("Which of the two reconstructions is closer to the clean digit (PSNR in dB, higher is closer), and how "
           "the gap between the plain AE and the DAE changes as the noise grows."),
        "denoise", N_("Denoising lab, Gaussian noise 0.5"), {"noise": "gaussian", "level": "0.5", "latent": "16"},
        r"L\big(x,\ g(f(\tilde x))\big)",
        N_(r"$\tilde x$ is the input with noise added; the loss still compares the output with the clean $x$."),
    ),
    Step(
        N_("Variational autoencoders"),
        N_(r"A plain autoencoder sends each input to one point, and nothing says what the space between the points "
           r"decodes to, so a code picked at random may decode to nonsense. A variational autoencoder (VAE) sends "
           r"each input to a distribution, a Gaussian with mean $\mu$ and spread $\sigma$, and decodes a code "
           r"sampled from it; a KL term pulls every such distribution toward the prior, the standard normal "
           r"$N(0, I)$. New digits can then be made by decoding codes sampled from the prior."),
        N_("Click a few digits, then drag the probe out past the outer circle."),
        N_(r"The ellipses show, for a sample of digits, the spread $\sigma$ of each code's distribution; the "
           r"circles are 1, 2 and 3 standard deviations of the prior. See where the codes sit against them, and "
           r"what the decoder draws far outside."),
        "explore", N_("Latent explorer, vae-2d with σ and prior"), {"models": "vae-2d", "sigma": "1", "prior": "1"},
        r"\begin{aligned} \log p(x) \ \ge\ & \mathbb{E}_{z \sim q(z \mid x)}\big[\log p(x \mid z)\big] \\"
        r" & - \mathrm{KL}\big(q(z \mid x)\,\|\,\mathcal{N}(0, I)\big) \end{aligned}",
        N_(r"The right-hand side is the evidence lower bound (ELBO), which training maximises: rebuild $x$ well "
           r"from sampled codes, and keep each code's distribution $q(z|x)$ close to the prior."),
    ),
    Step(
        N_("Continuity and completeness"),
        N_(r"To sample new data from a latent space, the article asks two things of it. Continuity: two nearby "
           r"codes decode to similar images. Completeness: a code drawn from the prior decodes to something "
           r"meaningful. The VAE vs AE page shows and measures both for a plain AE and a VAE of the same size; its "
           r"$\beta$ slider sets how much the KL term counts."),
        N_(r"The link opens it at $\beta = 0$ (no KL term): step the $\beta$ slider up to 4, and drag the probe "
           r"on either map."),
        N_(r"How the measured verdicts and the table under them change with $\beta$, and the shaded holes in the "
           r"map, where no training digit put its code."),
        "compare", N_("VAE vs AE, β = 0"), {"latent": "2", "beta": "0"},
        r"\begin{aligned} \mathcal{L}_\beta(x) =\ & \mathbb{E}_{z \sim q(z \mid x)}\big[-\log p(x \mid z)\big] \\"
        r" & + \beta\, \mathrm{KL}\big(q(z \mid x)\,\|\,\mathcal{N}(0, I)\big) \end{aligned}",
        N_(r"The loss the VAEs on that page were trained with: $\beta$ weighs the KL term, and at $\beta = 0$ only "
           r"the reconstruction counts."),
    ),
    Step(
        N_("What autoencoders are used for"),
        N_("The article names dimensionality reduction, denoising and anomaly detection. The first two you have "
           "seen, in the 2-D maps and the denoising lab. For anomaly detection: a model trained only on digits "
           "tends to rebuild other images worse than digits, so its reconstruction error can flag images that are "
           "out of distribution (OOD)."),
        N_("Move the threshold, then switch the out-of-distribution set from letters to rotated digits."),
        N_("How far the two histograms of scores overlap, the AUC (1 separates them completely, 0.5 is chance), "
           "and which images fool the detector."),
        "anomaly", N_("Anomaly lab, letters"), {"kind": "ae", "set": "letters", "score": "bce"},
        r"L\big(x,\ g(f(x))\big) \;\ge\; t",
        N_("An image whose reconstruction error reaches the threshold $t$ is flagged as out of distribution; a "
           "lower $t$ flags more odd images, and more real digits too."),
    ),
)


def render() -> None:
    st.title(_("Lesson path"))
    st.markdown(_("Eight steps through the article, in its order: from what an autoencoder is to what it is used "
                  "for. Each step gives the idea, something to try and what to look for, and a link to a page set up "
                  "to show it. The links keep this language and presenter mode."))
    labstate.publish([])  # this page's link: only the app-wide part, no other page's leftovers
    for problem in resources.manifest_problems():  # a shipped model left out: a step's page may lack it
        st.warning(resources.plain(problem, 600))
    targets = {p.url_path: p for p in discover()}
    for number, step in enumerate(STEPS, start=1):
        _step(number, step, targets.get(step.page))


def _step(number: int, step: Step, target: Page | None) -> None:
    """One step in a bordered box: the idea beside what to try, then its formula across the whole box
    (so that a formula never has to scroll inside a narrow column at 150% zoom)."""
    with st.container(border=True):
        st.subheader(f"{number}. {_(step.title)}", anchor=False)
        idea_col, do_col = st.columns([3, 2], gap="medium")
        idea_col.markdown(_(step.idea))
        with do_col:
            st.markdown(_("**Try:** {text}", text=_(step.tries)))
            st.markdown(_("**Look for:** {text}", text=_(step.look)))
            if target is None:
                st.caption(_("This step's page is not part of the app."))
            else:
                st.page_link(str(target.path), label=_(step.link), icon=":material/arrow_forward:",
                             query_params=step.query | labstate.kept())
        if step.formula:
            st.latex(step.formula)
            st.caption(_(step.formula_words))


if __name__ == "__main__":  # run by Streamlit as a page
    render()
