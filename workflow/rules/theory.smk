# Paper 001's Figures 1(a), 1(b), 2(a), 2(b): closed form and Monte Carlo (docs/specification.md#theory).

THEORY_KINDS = ["1a", "1b", "2a", "2b"]
# Simulation size (per point and training: n_trials x n_train training points per class,
# n_test test points per class); config key `theory` overrides any of these. 16 trials of
# 10000 cost as much as 8 of 20000 but estimate the SE better (the captions' 3-SE check).
THEORY_SETTINGS = {
    "n_train": 10000,
    "n_test": 100000,
    "n_trials": 16,
    "seed": 0,
    "include_paper_printed": False,
    **config.get("theory", {}),
}
THEORY_OUTPUTS = [
    path.format(results=RESULTS, kind=kind)
    for kind in THEORY_KINDS
    for path in (
        "{results}/figures/theory/theory_fig{kind}.png",
        "{results}/figures/theory/theory_fig{kind}.pdf",
        "{results}/figures/theory/theory_fig{kind}_caption.txt",
        "{results}/tables/theory/theory_fig{kind}.csv",
    )
]


rule theory_figure:
    output:
        png=report(
            f"{RESULTS}/figures/theory/theory_fig{{kind}}.png",
            caption="../report/theory.rst",
            category="Theory (paper 001)",
        ),
        pdf=f"{RESULTS}/figures/theory/theory_fig{{kind}}.pdf",
        caption=f"{RESULTS}/figures/theory/theory_fig{{kind}}_caption.txt",
        csv=f"{RESULTS}/tables/theory/theory_fig{{kind}}.csv",
    log:
        "logs/theory/theory_fig{kind}.log",
    wildcard_constraints:
        kind="|".join(THEORY_KINDS),
    conda:
        "../envs/fairat.yaml"
    params:
        simulation={
            key: THEORY_SETTINGS[key]
            for key in ("n_train", "n_test", "n_trials", "seed")
        },
        include_paper_printed=THEORY_SETTINGS["include_paper_printed"],
    script:
        "../../scripts/plot_theory.py"
