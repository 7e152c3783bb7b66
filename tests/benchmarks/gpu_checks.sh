#!/usr/bin/env bash
# The GPU checks and figures in one prepared run, for a machine with CUDA and this project's packages:
#   tests     pytest -m gpu (CUDA graphs, autocast, batched forwards, FLOPs against the CPU)
#   speed     benchmark_speed.py for OSTrack-256: the step at batch 1 in fp32 and in fp16 with a CUDA graph, and
#             one forward for 64 search crops
#   e2e       test.py end to end on a synthetic LaSOT (random OSTrack-256 weights): fp32, fp16 + CUDA graph, and
#             fp16 with --batch_sequences 32; each prints its frames/s of tracker time
#   accuracy  the quickstart on the GPU (trains TinySiam), then its test splits again in fp16 with CUDA graphs:
#             the two score tables side by side (autocast against fp32 on a trained model)
# Usage: bash tests/benchmarks/gpu_checks.sh [OUT_DIR] (default ./gpu_checks). STAGES (default "tests speed e2e";
# accuracy takes a few minutes more), PYTHON (default python3), DEVICE (default cuda; cpu runs the same steps in
# bf16 without graphs, to try the script), SEQUENCES / FRAMES (e2e data, default 32 / 100), BATCH (search crops
# of the batched step, default 64; --batch_sequences is half of it), QUICKSTART_SIZE (default / tiny). Logs go to
# OUT_DIR; a failed step is named at the end and makes the exit code 1.
set -u
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-gpu_checks}")
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
stages=" ${STAGES:-tests speed e2e} "
batch=${BATCH:-64}
mkdir -p "$out"
if [ "$device" = cuda ]; then fast=(--dtype fp16 --cuda_graph); half=fp16; else fast=(--dtype bf16); half=bf16; fi
failed=()

step() {  # step NAME COMMAND...: run it, keep its log, show its end
    local name=$1
    shift
    echo "== $name: $*"
    "$@" >"$out/$name.log" 2>&1 || failed+=("$name")
    tail -n 12 "$out/$name.log"
}

if [[ $stages == *" tests "* ]]; then
    step pytest_gpu "$py" -m pytest -q -m gpu -p no:cacheprovider
fi

if [[ $stages == *" speed "* ]]; then
    speed=("$py" tracking/benchmark_speed.py --device "$device" --models OSTrack-256)
    step speed_fp32 "${speed[@]}" --json "$out/speed_fp32.json"
    step speed_fast "${speed[@]}" "${fast[@]}" --json "$out/speed_fast.json"
    step speed_batch "${speed[@]}" --dtype "$half" --batch "$batch" --json "$out/speed_batch.json"
fi

if [[ $stages == *" e2e "* ]]; then
    data=$out/e2e_data
    weights=$out/ostrack256_random.pth.tar
    step e2e_data "$py" tracking/make_synthetic_data.py --data_dir "$data" --benchmarks lasot \
        --num_sequences "${SEQUENCES:-32}" --num_frames "${FRAMES:-100}"
    step e2e_weights "$py" -c "from lib.test.tracker.speed import build_bench_tracker as b
b('ostrack', 'vitb_256_mae_ce_32x4_ep300', '$weights')"
    run=("$py" tracking/test.py ostrack vitb_256_mae_ce_32x4_ep300 --dataset lasot --data_dir "$data" --only_present
         --checkpoint "$weights" --device "$device" --no_progress --overwrite)
    step e2e_fp32 "${run[@]}" --results_dir "$out/e2e_fp32"
    step e2e_fast "${run[@]}" "${fast[@]}" --results_dir "$out/e2e_fast"
    step e2e_batched "${run[@]}" --dtype "$half" --batch_sequences $((batch / 2)) --results_dir "$out/e2e_batched"
fi

if [[ $stages == *" accuracy "* ]]; then
    quick=$out/quickstart
    step quickstart "$py" tracking/quickstart.py --output_dir "$quick" --device "$device" \
        --size "${QUICKSTART_SIZE:-default}"
    # the checkpoint the quickstart's own test run used (its results folder's manifest names it)
    ckpt=$("$py" -c "import json, sys; print(json.load(open(sys.argv[1]))['checkpoint'])" \
        "$quick/test/tracking_results/tinysiam/quickstart/run_manifest.json")
    for dataset in lasot tnl2k; do
        step "accuracy_$dataset" env TRACKZOO_DATA_DIR="$quick/data" "$py" tracking/test.py tinysiam quickstart \
            --dataset "$dataset" --only_present --checkpoint "$ckpt" --device "$device" "${fast[@]}" \
            --results_dir "$out/accuracy_fast" --no_progress
        for run in "fp32:$quick/test/tracking_results" "fast:$out/accuracy_fast"; do
            step "score_${dataset}_${run%%:*}" env TRACKZOO_DATA_DIR="$quick/data" "$py" tracking/analysis_results.py \
                --dataset "$dataset" --only_present --no_plots --tracker "tinysiam:quickstart:TinySiam-${run%%:*}" \
                --results_dir "${run#*:}" --plot_dir "$out/plots_${run%%:*}"
        done
    done
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]} (logs in $out)"
    exit 1
fi
echo "all steps passed (logs in $out)"
