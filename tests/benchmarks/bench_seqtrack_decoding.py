"""SeqTrack B256: CPU time of one tracking step (encoder on [z, z, x] + four greedy decoding steps) with the
key/value-cached decoder against re-running the whole prefix each step (the official decoding), and of the decoding
alone; plus thop MACs of the official one-pass count and of the full four-pass step. Not a test; run by hand:

    .venv/bin/python -m tests.benchmarks.bench_seqtrack_decoding [--config seqtrack_b256] [--runs 5] [--threads 1]

CPU time at a fixed thread count is the steadier figure on a shared machine; the load average is printed.
"""
import argparse
import os
import statistics
import time

import torch

from lib.families import get_family, load_config
from lib.families.seqtrack.model import hann_window
from lib.utils.profiling import ProfileStep, count_multihead_attention, thop_macs


def cpu_ms(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="seqtrack_b256")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config("seqtrack", args.config)
    net = get_family("seqtrack").build_model(cfg, False).eval()
    z = torch.randn(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE)
    x = torch.randn(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE)
    start = torch.full((1, 1), cfg.MODEL.BINS + 1, dtype=torch.long)
    window = hann_window(cfg.MODEL.BINS) if cfg.TEST.WINDOW else None
    images = [z] * cfg.DATA.TEMPLATE.NUMBER + [x]
    with torch.inference_mode():
        xz = net.forward_encoder(images)
        rules = {torch.nn.MultiheadAttention: count_multihead_attention}
        encoder = thop_macs(ProfileStep("encoder", net, kwargs={"images_list": images}, thop_rules=rules))
        passes = [thop_macs(ProfileStep("decoder", net, kwargs={"xz": xz, "seq": start.repeat(1, n),
                                                                 "mode": "decoder"}, thop_rules=rules))
                  for n in range(1, 5)]
        print(f"{args.config}: thop MACs, official count (encoder + one decoder pass): "
              f"{(encoder + passes[0]) / 1e9:.2f} G; full step (encoder + passes on prefixes 1..4): "
              f"{(encoder + sum(passes)) / 1e9:.2f} G")
        results = {}
        for cache in (True, False):
            decode = lambda: net.inference_decoder(xz, start, window=window, use_cache=cache)  # noqa: E731
            step = lambda: net.inference_decoder(net.forward_encoder(images), start, window=window,  # noqa: E731
                                                 use_cache=cache)
            decode(), step()  # warm-up
            results[cache] = (cpu_ms(step, args.runs), cpu_ms(decode, args.runs * 10))
    print(f"CPU time, {args.threads} thread(s), median of {args.runs} steps / {args.runs * 10} decodings; "
          f"load average {os.getloadavg()[0]:.1f}")
    for cache, (step, decode) in results.items():
        label = "kv cache" if cache else "full prefix (official)"
        print(f"  {label:24s} tracking step {statistics.median(step):8.1f} ms   decoding alone "
              f"{statistics.median(decode):6.2f} ms")


if __name__ == "__main__":
    main()
