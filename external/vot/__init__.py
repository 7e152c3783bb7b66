"""VOT toolkit integration: a TraX server for any registered tracker, workspace writing, a patched toolkit CLI.

    python -m external.vot.workspace create W --synthetic     (or --stack vot2022/shorttermbox, --from_dataset NAME)
    python -m external.vot.workspace add W --tracker stark_st --param baseline --checkpoint FILE
    python -m external.vot.toolkit evaluate --workspace W stark_st_baseline

Run from the repository root. Only `toolkit` and the TraX server need the optional toolkit packages
(requirements-vot.txt); see external/vot/README.md for the toolkit pitfalls handled here.
"""
