"""fairat: train every method for every dataset, model, eps and seed; evaluate; tabulate."""

from snakemake.utils import min_version

min_version("9.19")


# config/config.yaml is the default; a --configfile on the command line replaces it instead of
# being merged into it (a merge would add the default's 13 methods to every paper config).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Each config works in its own directory (`workdir`, default: where snakemake runs): its data,
# results, logs, resume states and Snakemake's metadata never mix with another config's.
workdir: config.get("workdir", ".")


include: "workflow/rules/common.smk"
include: "workflow/rules/cache.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/external.smk"
include: "workflow/rules/corruptions.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/theory.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        PAPER_OUTPUTS,
        THEORY_OUTPUTS,
