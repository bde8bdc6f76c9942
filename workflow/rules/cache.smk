"""Between-workflow output cache of the train rule (docs/configs.md, "Runs another config
trained"): a run that another config already trained, with the same resolved run config, data
preparation and code, is symlinked from the cache instead of trained again."""

import os

from fairat.runtime.provenance import write_code_version

# fairat's code is not an input or param of any rule: this file (its source hash and the torch
# and numpy versions) is, as an ancient() input of train, so that it enters the cache's key and
# never triggers a rerun by its time (fairat.runtime.provenance)
CODE_VERSION = str(write_code_version(".snakemake/fairat/code-version.json"))

# --cache (set by profiles/local and profiles/slurm) needs $SNAKEMAKE_OUTPUT_CACHE, a directory
# that exists; the default lies beside the configs' workdirs, shared by every config run from
# this checkout. A location set in the environment (e.g. for several checkouts) is kept.
if workflow.enable_cache:
    OUTPUT_CACHE = os.environ.setdefault(
        "SNAKEMAKE_OUTPUT_CACHE", str(BASE / "workspaces" / ".output-cache")
    )
    Path(OUTPUT_CACHE).mkdir(parents=True, exist_ok=True)
