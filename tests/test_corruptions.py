"""Common corruptions (paper 003): mCE test vectors, the generator on 32x32 and 8x8 images, the
published CIFAR-10-C reader, bad settings, and the workflow end to end on digits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, run_snakemake, squeeze

from fairat.config.checks import load_workflow_config
from fairat.config.corruptions import (
    BROKEN_IN_GENERATE,
    CORRUPTIONS,
    check_settings,
    default_names,
    key,
)
from fairat.config.runs import EvalConfig
from fairat.config.schema import write_schema
from fairat.evaluation.corruptions import generate, mce, read_published
from fairat.reporting.classwise import CLASSWISE_COLUMNS
from fairat.reporting.corruption_tables import corruption_table, strongest_pgd
from fairat.reporting.paper_tables import to_markdown


def test_mce_unnormalised_and_normalised_by_hand():
    errors = {"a_s1": 0.2, "a_s2": 0.4, "b_s1": 0.1, "b_s2": 0.3}
    assert mce(errors) == pytest.approx(0.25)
    baseline = {"a_s1": 0.4, "a_s2": 0.4, "b_s1": 0.2, "b_s2": 0.2}
    # CE_a = 0.6 / 0.8, CE_b = 0.4 / 0.4; mCE = their mean
    assert mce(errors, baseline) == pytest.approx((0.75 + 1.0) / 2)
    assert mce(baseline, baseline) == pytest.approx(1.0)


def test_generate_has_13_of_15_corruptions_and_says_why_not_the_others():
    names = default_names("generate")
    assert len(names) == 13 and set(CORRUPTIONS) - set(names) == set(BROKEN_IN_GENERATE)
    assert default_names("cifar10c") == list(CORRUPTIONS)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8)], ids=["rgb32", "gray8"])
def test_every_generated_corruption_keeps_shape_dtype_and_is_reproducible(shape):
    rng = np.random.default_rng(0)
    x = rng.integers(40, 216, (3, *shape), dtype=np.uint8)
    names = default_names("generate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = generate(x, names, [1, 5], seed=0, progress=False)
        again = generate(x, names, [1, 5], seed=0, progress=False)
    assert set(out) == {key(n, s) for n in names for s in (1, 5)}
    for k, arr in out.items():
        assert arr.shape == x.shape and arr.dtype == np.uint8, k
        assert np.array_equal(arr, again[k]), k  # seeded: the same split every time
    # severity 5 moves pixels further than severity 1, on average over the corruptions
    dist = {
        s: np.mean([np.abs(out[key(n, s)].astype(float) - x).mean() for n in names]) for s in (1, 5)
    }
    assert dist[5] > dist[1] > 0


def test_generate_refuses_real_valued_features():
    with pytest.raises(ValueError, match="uint8 images"):
        generate(np.zeros((2, 4), dtype=np.float32), ["contrast"], [1], seed=0)


def _published(tmp_path, y, names):
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    rng = np.random.default_rng(1)
    np.save(folder / "labels.npy", np.tile(y, 5))
    arrays = {}
    for name in names:
        arrays[name] = rng.integers(0, 256, (5 * len(y), 32, 32, 3), dtype=np.uint8)
        np.save(folder / f"{name}.npy", arrays[name])
    return folder, arrays


def test_published_reader_takes_each_severitys_block_in_order(tmp_path):
    y = np.arange(10) % 10
    folder, arrays = _published(tmp_path, y, ["fog", "snow"])
    out = read_published(folder, ["fog", "snow"], [1, 3], y)
    assert set(out) == {"fog_s1", "fog_s3", "snow_s1", "snow_s3"}
    assert out["fog_s3"].shape == (10, 3, 32, 32)
    assert np.array_equal(out["fog_s3"], arrays["fog"][20:30].transpose(0, 3, 1, 2))
    with pytest.raises(FileNotFoundError, match="frost.npy not found"):
        read_published(folder, ["frost"], [1], y)
    with pytest.raises(ValueError, match="labels differ"):
        read_published(folder, ["fog"], [1], y[::-1].copy())


@pytest.mark.parametrize(
    ("settings", "datasets", "message"),
    [
        ({"source": "cifar10-c"}, ["cifar10"], "corruptions.source: 'cifar10-c' is not allowed"),
        ({"names": ["gaussian"]}, ["digits"], "corruptions.names: 'gaussian' is not allowed"),
        ({"names": ["fog"]}, ["digits"], "corruptions.names: 'fog' cannot be generated"),
        ({"severities": [6]}, ["digits"], "corruptions.severities: 6 is not allowed"),
        ({"source": "cifar10c"}, ["digits"], "holds cifar10 test images only"),
    ],
)
def test_bad_corruption_settings_fail_naming_the_field(settings, datasets, message):
    with pytest.raises(ValueError, match=message):
        check_settings(settings, datasets)


def _config(**changes):
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    config["methods"] = {"natural": {}, "pgd_at": {"steps": 2}}
    config["seeds"] = [0]
    config["evaluation"] = {"attacks": ["clean", "pgd5"], "checkpoints": ["last"]}
    config["corruptions"] = {
        "names": ["gaussian_noise", "contrast", "pixelate"],
        "severities": [1, 5],
        "baseline": "natural",
    }
    config.update(changes)
    return config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"baseline": "trades"}, "corruptions.baseline: 'trades' is not a run"),
        ({"checkpoints": ["best"]}, "corruptions.checkpoints: 'best' is not in evaluation"),
    ],
)
def test_corruption_settings_that_need_the_runs(change, message, tmp_path):
    config = _config()
    config["corruptions"].update(change)
    schema = write_schema(REPO / "workflow/schemas/config.schema.yaml", tmp_path / "s.json")
    with pytest.raises(ValueError, match=message):
        load_workflow_config(config, schema)


def test_strongest_pgd_prefers_paper_003s_pgd40_then_the_most_steps():
    assert strongest_pgd(["clean", "pgd100", "pgd40", "cw30"]) == "pgd40"
    assert strongest_pgd(["clean", "pgd20", "pgd100", "cw100"]) == "pgd100"
    assert strongest_pgd(["clean", "fgsm", "cw30"]) is None


def _frame(accuracies: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """A class-wise frame: run pgd_at and label_aug_at, seed 0, eps 8/255, classes a and b."""
    rows = [
        ["toy", "m", run, run, "8/255", 0, "last", attack, c, acc, 10, "fp32"]
        for (run, attack), accs in accuracies.items()
        for c, acc in zip("ab", accs, strict=True)
    ]
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


def test_the_corruption_table_names_the_radius_of_each_pgd_column():
    """PGD-40 at the runs' eps and at paper 003's radius (pgd40@2/255), each its own column
    whose header says its radius; the note says where 2/255 comes from."""
    main = _frame(
        {
            (run, attack): [acc, acc]
            for run, base in (("pgd_at", 0.0), ("label_aug_at", 0.1))
            for attack, acc in (("clean", 0.8), ("pgd40", 0.4), ("pgd40@2/255", 0.7))
            for acc in [acc + base]
        }
    )
    corrupted = _frame(
        {(run, "fog_s1"): [0.6, 0.5] for run in ("pgd_at", "label_aug_at")}
        | {(run, "contrast_s1"): [0.5, 0.4] for run in ("pgd_at", "label_aug_at")}
    )
    table = corruption_table(main, corrupted, baseline="pgd_at")
    row = table.data.set_index("run")
    assert row.loc["pgd_at", "pgd_error"] == pytest.approx(0.6)
    assert row.loc["pgd_at", "pgd_radius_error"] == pytest.approx(0.3)
    assert row.loc["label_aug_at", "pgd_radius_error"] == pytest.approx(0.2)
    md = squeeze(to_markdown(table))
    header = next(line for line in md.splitlines() if line.startswith("| run"))
    assert "| pgd40 at 8/255 error |" in header and "| pgd40 at 2/255 error |" in header
    assert "`pgd40@2/255` at 2/255: paper 003's radius" in table.note
    # a suite without it: one PGD column, and the note says what is missing
    only = corruption_table(main[main["attack"] != "pgd40@2/255"], corrupted, "pgd_at")
    assert "2/255 error" not in to_markdown(only) and "did not run" in only.note


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in sorted((REPO / "config").glob("*.yaml"))
        if "corruptions" in yaml.safe_load(p.read_text())
    ],
    ids=lambda p: p.stem,
)
def test_a_shipped_corruption_table_reports_paper_003s_pgd40(path):
    """Paper 003's Table 2 and its corruption table report PGD-40 error; a shipped config that
    writes that table runs pgd40 in its suite (every attack but a restricted AutoAttack runs on
    every checkpoint and the whole test split, docs/protocol.md)."""
    config = yaml.safe_load(path.read_text())
    attacks = list(EvalConfig(**config["evaluation"]).suite_attacks)
    assert strongest_pgd(attacks) == "pgd40"
    # and at paper 003's radius (f-amerehi/LA: 0.03 of the normalised inputs, about 2/255)
    assert "pgd40@2/255" in attacks


def test_corruptions_end_to_end_on_digits(tmp_path):
    # with a PGD-40 at its own radius: the workflow carries it from the schema to the tables
    attacks = {"attacks": ["clean", "pgd5", "pgd40@4/255"], "checkpoints": ["last"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(evaluation=attacks)))
    done = run_snakemake(tmp_path, "--cores", "2", "--configfile", str(tmp_path / "config.yaml"))
    assert done.returncode == 0, done.stderr[-3000:]
    corrupted = pd.read_csv(
        tmp_path / "results/tables/corruption_classwise.csv", dtype={"class": str}
    )
    keys = {key(n, s) for n in ("gaussian_noise", "contrast", "pixelate") for s in (1, 5)}
    assert set(corrupted["attack"]) == keys
    assert len(corrupted) == 2 * len(keys) * 10  # runs x corrupted splits x classes
    assert (corrupted.groupby(["run", "attack"])["n"].sum() == 539).all()
    table = pd.read_csv(tmp_path / "results/tables/paper/corruptions.csv")
    assert set(table["run"]) == {"natural", "pgd_at"}
    row = table.set_index("run")
    assert row.loc["natural", "mce_normalised"] == pytest.approx(1.0)  # the baseline itself
    assert (table["mce"].between(0, 1)).all() and (table["class_error_std"] >= 0).all()
    # mCE is the mean error over the corrupted splits, from the class-wise table
    nat = corrupted[corrupted["run"] == "natural"]
    assert row.loc["natural", "mce"] == pytest.approx(
        1 - nat.groupby("attack")["accuracy"].mean().mean()
    )
    md = (tmp_path / "results/tables/paper/corruptions.md").read_text()
    assert "mCE" in md and "paper 003 uses PGD-40" in md
    assert "pgd5 at 16/255 error" in md and "pgd40 at 4/255 error" in md
    assert (table["pgd_radius_error"] < table["pgd_error"]).all()  # a quarter of the radius
    summary = pd.read_csv(tmp_path / "results/tables/summary.csv")
    assert "pgd40@4/255" in set(summary["attack"])
    with np.load(
        tmp_path / "results/corruptions/digits/cnn_small/natural/eps16_255/seed0/last.npz"
    ) as z:
        assert set(z.files) >= keys | {f"pred_{k}" for k in keys}
