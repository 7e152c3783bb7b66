"""Score trackers over a dataset: per-sequence curves for every run, cached, merged over runs.

The cache is one `.npz` per tracker run and dataset. Each sequence's entry is keyed by the scoring rules, the
result file's path, size and modification time (and its time file's), and a digest of the ground truth, so
re-running a tracker on some sequences, or changing the annotations, recomputes exactly those sequences.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from lib.test.analysis.metrics import (GOT10K_TAG, InvalidResultsError, Protocol, average_curves, check_protocol,
                                       default_protocol, get_protocol, protocol_scores, score_batch)
from lib.test.analysis.multimodal import longterm_curves, longterm_frames, longterm_scores, longterm_thresholds
from lib.test.analysis.results import (EvalSequence, MissingResultsError, TrackerSpec, find_missing,
                                       missing_message, read_recorded_output, result_file, time_file_for)
from lib.utils.io import atomic_save
from lib.utils.numeric_text import read_numeric_files

__all__ = ["ScoringRules", "RunScores", "Evaluation", "LongTermEvaluation", "score_sequence", "score_sequences",
           "score_run", "evaluate", "GOT10K_TAG"]

_CACHE_VERSION = "2"
_RUN_ARRAYS = ("success", "precision", "norm_precision", "ao", "got", "times")  # RunScores' per-sequence arrays


@dataclass(frozen=True)
class ScoringRules:
    """Options that change the numbers (see metrics.py): the evaluation protocol (None: `default_protocol` of the
    sequences' datasets) and, for `pytracking`/`stark`, whether invalid frames leave the denominator."""
    protocol: str | None = None
    exclude_invalid: bool = False

    def __post_init__(self):
        if self.protocol is not None:
            get_protocol(self.protocol)
            if self.exclude_invalid and self.protocol not in ("pytracking", "stark"):
                raise ValueError(f"exclude_invalid applies to the pytracking and stark protocols, not "
                                 f"'{self.protocol}'")

    def resolved(self, sequences: list[EvalSequence]) -> "ScoringRules":
        if self.protocol is not None:
            return self
        return ScoringRules(default_protocol([s.dataset for s in sequences]), self.exclude_invalid)

    def key(self) -> str:
        return f"v{_CACHE_VERSION}:protocol={self.protocol}:excl={int(self.exclude_invalid)}"


@dataclass
class RunScores:
    """Per-sequence numbers of one tracker run, rows in `names` order."""
    names: list[str]
    success: np.ndarray          # (S, 21)
    precision: np.ndarray        # (S, 51)
    norm_precision: np.ndarray   # (S, 51)
    ao: np.ndarray               # (S,)
    got: np.ndarray              # (S, 4) GOT-10k protocol stats (NaN under the other protocols)
    times: np.ndarray            # (S, 2) [timed frames, seconds]; zeros without a time file

    @classmethod
    def empty(cls, names: list[str], protocol: Protocol) -> "RunScores":
        s = len(names)
        return cls(list(names), np.zeros((s, len(protocol.overlap_thresholds))),
                   np.zeros((s, len(protocol.center_thresholds))), np.zeros((s, len(protocol.norm_center_thresholds))),
                   np.zeros(s), np.full((s, 4), np.nan), np.zeros((s, 2)))

    def set_row(self, i: int, values: dict[str, np.ndarray]) -> None:
        for k in _RUN_ARRAYS:
            getattr(self, k)[i] = values[k]



def _gt_digest(seq: EvalSequence) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(seq.dataset.encode())
    h.update(np.ascontiguousarray(seq.ground_truth_rect, dtype=np.float64))
    if seq.target_visible is not None:
        h.update(np.ascontiguousarray(seq.target_visible, dtype=bool))
    aux = getattr(seq, "ground_truth_rect_aux", None)
    if aux is not None:
        h.update(np.ascontiguousarray(aux, dtype=np.float64))
    h.update(repr(getattr(seq, "image_size", None)).encode())
    return h.hexdigest()


def _file_signature(path: str) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


def score_sequences(preds: list[np.ndarray], seqs: list[EvalSequence], rules: ScoringRules) \
        -> list[dict[str, np.ndarray]]:
    """All per-sequence numbers (curves, AO, GOT-10k stats) for one prediction array per sequence, in one batch."""
    gts = [np.asarray(seq.ground_truth_rect, dtype=np.float64) for seq in seqs]
    for pred, gt, seq in zip(preds, gts, seqs):
        if len(gt) == 1 and len(pred) > 1:
            raise InvalidResultsError(
                f"sequence '{seq.name}': the ground truth holds only the first frame (a test split scored by the "
                f"benchmark server); pack the results with lib/test/utils/transform_got10k.py or "
                f"transform_trackingnet.py instead")
    rules = rules.resolved(seqs)
    arrays = score_batch(rules.protocol, preds, gts, [s.dataset for s in seqs], [s.target_visible for s in seqs],
                         [getattr(s, "image_size", None) for s in seqs], [s.name for s in seqs],
                         rules.exclude_invalid, [getattr(s, "ground_truth_rect_aux", None) for s in seqs])
    return [{k: v[i] for k, v in arrays.items()} for i in range(len(seqs))]


def score_sequence(pred: np.ndarray, seq: EvalSequence, rules: ScoringRules) -> dict[str, np.ndarray]:
    """`score_sequences` for a single sequence."""
    return score_sequences([pred], [seq], rules)[0]


def _timings(result_paths: list[str]) -> list[np.ndarray]:
    """[timed frames, seconds] per result file (zeros without a time file); like the toolkits, non-positive and
    non-finite entries are ignored."""
    out = [np.zeros(2) for _ in result_paths]
    timed = [(i, time_file_for(p)) for i, p in enumerate(result_paths) if os.path.isfile(time_file_for(p))]
    for (i, _), times in zip(timed, read_numeric_files([t for _, t in timed], 1)):
        times = times.ravel()
        times = times[np.isfinite(times) & (times > 0)]
        out[i] = np.array([times.size, times.sum()])
    return out


class _Cache:
    """Per-sequence entries of one run, stored as one .npz (no pickles)."""

    def __init__(self, path: str | None, load: bool = True):
        self.path = path
        self.entries: dict[str, tuple[str, dict[str, np.ndarray]]] = {}
        self.dirty = False
        if load and path and os.path.isfile(path):
            self._load(path)

    def _load(self, path: str) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            return  # an unreadable cache is only a slower run
        for i, (name, sig) in enumerate(zip(arrays["names"], arrays["sigs"])):
            self.entries[str(name)] = (str(sig), {k: arrays[k][i] for k in _RUN_ARRAYS})

    def get(self, name: str, sig: str) -> dict[str, np.ndarray] | None:
        entry = self.entries.get(name)
        return entry[1] if entry is not None and entry[0] == sig else None

    def put(self, name: str, sig: str, values: dict[str, np.ndarray]) -> None:
        self.entries[name] = (sig, values)
        self.dirty = True

    def save(self) -> None:
        if not (self.path and self.dirty):
            return
        names = sorted(self.entries)
        arrays = {"names": np.array(names, dtype=str), "sigs": np.array([self.entries[n][0] for n in names],
                                                                        dtype=str)}
        for k in _RUN_ARRAYS:
            arrays[k] = np.stack([np.asarray(self.entries[n][1][k], dtype=np.float64) for n in names])
        atomic_save(self.path, lambda f: np.savez(f, **arrays))
        self.dirty = False


def score_run(tracker: TrackerSpec, run_id: int | None, sequences: list[EvalSequence], results_path: str,
              rules: ScoringRules, cache_path: str | None = None, force: bool = False,
              gt_digests: dict[str, str] | None = None) -> RunScores:
    """Per-sequence numbers of one run; every sequence must have a result file (see `evaluate`)."""
    run_dir = tracker.run_dir(results_path, run_id)
    rules = rules.resolved(sequences)
    cache = _Cache(cache_path, load=not force)
    scores = RunScores.empty([seq.name for seq in sequences], get_protocol(rules.protocol))
    todo = []  # (row, sequence, result file, cache entry, signature)
    for i, seq in enumerate(sequences):
        path = result_file(run_dir, seq)
        if path is None:
            raise MissingResultsError(missing_message(tracker, results_path, {run_id: [seq.name]}, seq.dataset, 1))
        entry = sig = ""
        if cache_path:
            digest = gt_digests[seq.name] if gt_digests else _gt_digest(seq)
            entry = f"{rules.key()}|{seq.name}"  # entries per rule set: switching --protocol back and forth is free
            sig = "|".join((path, _file_signature(path), _file_signature(time_file_for(path)), digest))
            values = cache.get(entry, sig)
            if values is not None:
                scores.set_row(i, values)
                continue
        todo.append((i, seq, path, entry, sig))
    if todo:
        rows, seqs, paths, entries, sigs = zip(*todo)
        try:
            computed = score_sequences(read_numeric_files(paths, 4), list(seqs), rules)
        except (InvalidResultsError, ValueError) as e:
            raise InvalidResultsError(f"tracker '{tracker.label}' ({run_dir}): {e}") from None
        for i, entry, sig, values, timing in zip(rows, entries, sigs, computed, _timings(list(paths))):
            values["times"] = timing
            cache.put(entry, sig, values)
            scores.set_row(i, values)
    cache.save()
    return scores


@dataclass
class Evaluation:
    """Merged (run-averaged) per-sequence numbers of several trackers over the same sequences."""
    trackers: list[TrackerSpec]
    names: list[str]
    n_total: int
    rules: ScoringRules
    success: np.ndarray          # (T, S, 21)
    precision: np.ndarray        # (T, S, 51)
    norm_precision: np.ndarray   # (T, S, 51)
    ao: np.ndarray               # (T, S)
    got: np.ndarray              # (T, S, 4) pooled over runs
    times: np.ndarray            # (T, 2) [timed frames, seconds]
    skipped: list[str] = field(default_factory=list)
    # GOT-10k AO/SR pooled over all frames (the got10k toolkit's 'overall') or averaged over sequences.
    got10k_frame_weighted: bool = True

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.trackers]

    @property
    def protocol(self) -> Protocol:
        return get_protocol(self.rules.protocol)

    @property
    def score_names(self) -> tuple[str, ...]:
        return self.protocol.score_names

    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Averaged curves (T, K) in [0, 1] with the protocol's thresholds (`protocol.*_thresholds`)."""
        name = self.rules.protocol
        frames = self.got[..., 0] if name == "got10k" and self.got10k_frame_weighted else None
        return (average_curves(name, self.success, frames), average_curves(name, self.precision),
                average_curves(name, self.norm_precision))

    def scores(self) -> list[dict[str, float]]:
        """One dict per tracker: the protocol's table scores in percent, and FPS (NaN without time files)."""
        out = []
        for t, (s, p, n) in enumerate(zip(*self.curves())):
            row = protocol_scores(self.rules.protocol, s, p, n, self.got[t], self.got10k_frame_weighted)
            frames, seconds = self.times[t]
            row["FPS"] = frames / seconds if frames > 0 and seconds > 0 else float("nan")
            out.append(row)
        return out


def _sequence_subset(sequences: list[EvalSequence], trackers: list[TrackerSpec], results_path: str,
                     skip_missing: bool) -> tuple[list[EvalSequence], list[str]]:
    """The sequences every tracker run has results for; raises unless `skip_missing`."""
    messages, dropped = [], set()
    tag = sequences[0].dataset if sequences else ""
    for tracker in trackers:
        missing = find_missing(tracker, results_path, sequences)
        if missing:
            messages.append(missing_message(tracker, results_path, missing, tag, len(sequences)))
            for names in missing.values():
                dropped.update(names)
    if messages and not skip_missing:
        raise MissingResultsError("; ".join(messages) + "; add --skip_missing to report over the sequences that "
                                                       "every tracker has")
    return [s for s in sequences if s.name not in dropped], [s.name for s in sequences if s.name in dropped]


def evaluate(trackers: list[TrackerSpec], sequences: list[EvalSequence], results_path: str,
             rules: ScoringRules = ScoringRules(), cache_dir: str | None = None, force: bool = False,
             skip_missing: bool = False) -> Evaluation:
    """Score every tracker (all its runs, averaged per sequence, as pytracking's `merge_results=True`).

    Missing result files raise MissingResultsError naming the tracker and the sequences; with `skip_missing` those
    sequences are dropped for every tracker (so all rows cover the same sequences).
    """
    if not trackers:
        raise ValueError("no tracker given")
    sequences = list(sequences)
    names = [s.name for s in sequences]
    if len(set(names)) != len(names):
        raise ValueError("duplicate sequence names in the dataset")
    kept, skipped = _sequence_subset(sequences, trackers, results_path, skip_missing)
    if not kept:
        raise MissingResultsError("no sequence has results from every tracker")
    rules = rules.resolved(kept)
    check_protocol(rules.protocol, [s.dataset for s in kept])
    if rules.protocol == "vot_longterm":
        return _evaluate_longterm(trackers, kept, len(sequences), results_path, rules, skipped)
    digests = {seq.name: _gt_digest(seq) for seq in kept} if cache_dir else None
    per_tracker = []
    for tracker in trackers:
        runs = [score_run(tracker, run_id, kept, results_path, rules,
                          os.path.join(cache_dir, tracker.run_key(run_id) + ".npz") if cache_dir else None,
                          force, digests) for run_id in tracker.run_ids]
        per_tracker.append(runs)

    def merged(attr: str, reduce=np.mean) -> np.ndarray:
        return np.stack([reduce(np.stack([getattr(r, attr) for r in runs]), axis=0) for runs in per_tracker])

    times = np.stack([np.sum([r.times.sum(axis=0) for r in runs], axis=0) for runs in per_tracker])
    return Evaluation(list(trackers), [s.name for s in kept], len(sequences), rules,
                      merged("success"), merged("precision"), merged("norm_precision"), merged("ao"),
                      merged("got", np.sum), times, skipped)


@dataclass
class LongTermEvaluation:
    """Long-term (VOT) precision / recall curves of several trackers over the same sequences: per tracker, one
    value per confidence threshold (each tracker has its own thresholds), averaged over sequences. Offers what
    report.py and plots.py read from an `Evaluation`."""
    trackers: list[TrackerSpec]
    names: list[str]
    n_total: int
    rules: ScoringRules
    thresholds: list[np.ndarray]  # per tracker (K_t,)
    precision: list[np.ndarray]   # per tracker (K_t,) tracking precision in [0, 1]
    recall: list[np.ndarray]      # per tracker (K_t,) tracking recall in [0, 1]
    ao: np.ndarray                # (T, S) mean overlap over the frames (after the first) with the target present
    times: np.ndarray             # (T, 2) [timed frames, seconds]
    skipped: list[str] = field(default_factory=list)

    labels = Evaluation.labels
    protocol = Evaluation.protocol
    score_names = Evaluation.score_names

    def scores(self) -> list[dict[str, float]]:
        """One dict per tracker: Pr, Re and F-score in percent (at the threshold of the best F), and FPS."""
        out = []
        for t, (precision, recall) in enumerate(zip(self.precision, self.recall)):
            row = longterm_scores(precision, recall)
            frames, seconds = self.times[t]
            row["FPS"] = frames / seconds if frames > 0 and seconds > 0 else float("nan")
            out.append(row)
        return out


def _run_frames(tracker: TrackerSpec, run_id: int | None, sequences: list[EvalSequence], results_path: str) \
        -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], np.ndarray]:
    """(overlap, confidence, target present) per frame of each sequence of one run, and its [frames, seconds]."""
    run_dir = tracker.run_dir(results_path, run_id)
    paths = []
    for seq in sequences:
        path = result_file(run_dir, seq)
        if path is None:
            raise MissingResultsError(missing_message(tracker, results_path, {run_id: [seq.name]}, seq.dataset, 1))
        paths.append(path)
    needed_by = f"the vot_longterm protocol ('{sequences[0].dataset}')"
    frames = []
    try:
        for seq, path, boxes in zip(sequences, paths, read_numeric_files(paths, 4)):
            present = np.ones(len(seq.ground_truth_rect), dtype=bool) if seq.target_visible is None \
                else np.asarray(seq.target_visible, dtype=bool)
            frames.append(longterm_frames(boxes, seq.ground_truth_rect, present,
                                          read_recorded_output(path, "confidence", needed_by),
                                          getattr(seq, "image_size", None), seq.name))
    except (InvalidResultsError, ValueError) as e:
        raise InvalidResultsError(f"tracker '{tracker.label}' ({run_dir}): {e}") from None
    return frames, np.sum(_timings(paths), axis=0)


def _evaluate_longterm(trackers: list[TrackerSpec], sequences: list[EvalSequence], n_total: int, results_path: str,
                       rules: ScoringRules, skipped: list[str]) -> LongTermEvaluation:
    """The VOT toolkit's long-term analysis per tracker: thresholds from the confidences of all its runs and
    sequences, precision / recall per sequence averaged over runs, then over sequences (no cache: the thresholds
    depend on every result at once, and the arithmetic is cheap)."""
    thresholds, precision, recall, ao, times = [], [], [], [], []
    for tracker in trackers:
        runs = [_run_frames(tracker, run_id, sequences, results_path) for run_id in tracker.run_ids]
        levels = longterm_thresholds([conf for frames, _ in runs for _, conf, _ in frames])
        curves = np.array([[longterm_curves(overlap, conf, present, levels) for overlap, conf, present in frames]
                           for frames, _ in runs])  # (runs, S, 2, K)
        mean = curves.mean(axis=0).mean(axis=0)
        thresholds.append(levels)
        precision.append(mean[0])
        recall.append(mean[1])
        ao.append(np.mean([[_present_mean(overlap, present) for overlap, _, present in frames]
                           for frames, _ in runs], axis=0))
        times.append(np.sum([t for _, t in runs], axis=0))
    return LongTermEvaluation(list(trackers), [s.name for s in sequences], n_total, rules, thresholds, precision,
                              recall, np.array(ao), np.array(times), skipped)


def _present_mean(overlap: np.ndarray, present: np.ndarray) -> float:
    """Mean overlap over the tracked frames (after the first) with the target present; NaN when there is none."""
    return float(overlap[1:][present[1:]].mean()) if present[1:].any() else float("nan")
