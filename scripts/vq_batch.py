"""Chunked measurement of one (reference, distorted) pair on a Dask cluster.

The title is cut into chunks of frames; each chunk is one Dask task that runs the
`vqmeter-chunk` worker (a GStreamer pipeline with `vqmeter`) on its frame range; the
driver assembles the per-frame results, per-chunk (segment) pools and the title's pooled
scores in libvmaf's layout. See the README's "vqmeter at catalogue scale" section.

Why Dask and not Ray: the tasks here are independent subprocess calls with small results
(a chunk's scores are a few kB), which is exactly Dask's `client.submit`; Dask installs
from PyPI as two pure-Python wheels, starts a local cluster in about a second, and its
scheduler re-runs the task of a worker that died. Ray brings a ~60 MB native wheel, an
object store and a dashboard process that cost more memory than the chunks themselves.

Failure handling is the driver's own, so that every retry is counted and reported: the
scheduler is told not to re-run a task itself (allowed-failures = 0); a task whose worker
died (KilledWorker) or whose chunk failed is submitted again, up to --retries times, and a
chunk that still fails is reported with its error while the other chunks' results are kept
(in OUT's chunk folder, reused by the next run of the same command).
"""

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import time


def log(msg):
    print(f"vq-batch: {msg}", file=sys.stderr, flush=True)


def run_worker(worker_bin, args, timeout=None):
    p = subprocess.run(
        [worker_bin] + args, capture_output=True, text=True, timeout=timeout
    )
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or f"exit status {p.returncode}")
    return p.stdout


def measure_chunk(worker_bin, args, timeout):
    """One task: measures a chunk; returns its scores and where and how long it ran."""
    t0 = time.time()
    out = run_worker(worker_bin, args, timeout)
    return {
        "result": json.loads(out),
        "seconds": time.time() - t0,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def pin_workers(client):
    """Worker i runs on core i (mod the cores this process may use); the chunk processes it
    starts inherit the mask."""
    cores = sorted(os.sched_getaffinity(0))
    addrs = sorted(client.scheduler_info()["workers"])

    def pin(dask_worker):
        i = addrs.index(dask_worker.address)
        os.sched_setaffinity(0, {cores[i % len(cores)]})
        return cores[i % len(cores)]

    got = client.run(pin)
    log("pinned " + ", ".join(f"{w} to core {c}" for w, c in sorted(got.items())))


def probe(client, worker_bin, path):
    return client.submit(
        lambda: json.loads(run_worker(worker_bin, ["probe", path])), pure=False
    )


class Progress:
    """A bar on a terminal, plain lines otherwise (CI logs, pipes)."""

    def __init__(self, total):
        self.total = total
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="chunk", file=sys.stderr)

    def done(self, line):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(line[:60])
        else:
            log(line)

    def note(self, line):
        if self.bar is not None:
            self.bar.write(f"vq-batch: {line}", file=sys.stderr)
        else:
            log(line)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def main():
    ap = argparse.ArgumentParser(prog="vq-batch.sh measure")
    ap.add_argument("cmd", choices=["measure"])
    ap.add_argument("ref")
    ap.add_argument("dist")
    ap.add_argument("--chunk-frames", type=int, required=True)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--out", required=True)
    ap.add_argument("--address", help="scheduler of an existing Dask cluster")
    ap.add_argument("--format", choices=["json", "csv", "xml"], default="json")
    ap.add_argument("--model", default="vmaf_v0.6.1")
    ap.add_argument("--psnr", action="store_true")
    ap.add_argument("--ssim", action="store_true")
    ap.add_argument("--ms-ssim", action="store_true")
    ap.add_argument("--threads-per-chunk", type=int, default=1)
    ap.add_argument("--retries", type=int, default=3)
    ap.add_argument("--chunk-timeout", type=float, default=None)
    ap.add_argument(
        "--pin-workers",
        action="store_true",
        help="pin each worker process of the local cluster to one core (one worker = one core, "
        "decoders included), as the benchmark measures per-worker throughput",
    )
    ap.add_argument("--worker-bin", required=True)
    a = ap.parse_args()
    # LocalCluster(n_workers=0) starts fine and then waits forever for a worker; the others
    # would only fail later, chunk by chunk.
    for opt, val, least in (
        ("--chunk-frames", a.chunk_frames, 1),
        ("--workers", a.workers, 1),
        ("--threads-per-chunk", a.threads_per_chunk, 0),
        ("--retries", a.retries, 0),
    ):
        if val < least:
            log(f"{opt} {val}: must be at least {least}")
            return 2
    if a.chunk_timeout is not None and not a.chunk_timeout > 0:
        log(f"--chunk-timeout {a.chunk_timeout:g}: must be more than 0 seconds")
        return 2
    ref, dist = os.path.abspath(a.ref), os.path.abspath(a.dist)
    for p in (ref, dist):
        if not os.path.isfile(p):
            log(f"{p}: no such file")
            return 2
    # Before the cluster starts, so that a bad --out fails at once.
    if os.path.isdir(a.out):
        log(f"{os.path.abspath(a.out)}: is a directory; --out names a file")
        return 2
    chunk_dir = f"{os.path.abspath(a.out)}.chunks"
    try:
        os.makedirs(chunk_dir, exist_ok=True)
    except OSError as e:
        log(f"cannot create {chunk_dir}: {e.strerror or e}")
        return 2

    import dask
    from distributed import Client, LocalCluster, as_completed

    # A task of a dead worker comes back to the driver at once, to be counted as a retry.
    dask.config.set({"distributed.scheduler.allowed-failures": 0})
    t_start = time.time()
    cluster = None
    if a.address:
        # Dask's own connect timeout (distributed.comm.timeouts.connect, 30 s) bounds the wait.
        try:
            client = Client(a.address)
        except (OSError, ValueError) as e:
            log(f"cannot reach the Dask scheduler at {a.address}: {e}")
            return 2
        log(f"joined the cluster at {a.address}")
    else:
        cluster = LocalCluster(
            n_workers=a.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        client = Client(cluster)
        log(f"started a local cluster of {a.workers} worker process(es)")
        if a.pin_workers:
            pin_workers(client)
    t_cluster = time.time() - t_start
    try:
        return run(a, client, ref, dist, t_cluster, as_completed)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run(a, client, ref, dist, t_cluster, as_completed):
    worker_bin = os.path.abspath(a.worker_bin)
    t0 = time.time()
    pr, pd = probe(client, worker_bin, ref), probe(client, worker_bin, dist)
    try:
        rinfo, dinfo = pr.result(), pd.result()
    except Exception as e:  # noqa: BLE001 - the worker's message is the error
        log(f"cannot read the inputs: {e}")
        return 2
    t_probe = time.time() - t0
    if (rinfo["width"], rinfo["height"]) != (dinfo["width"], dinfo["height"]):
        log(
            f"the inputs differ in size ({rinfo['width']}x{rinfo['height']} and "
            f"{dinfo['width']}x{dinfo['height']}): scale one first"
        )
        return 2
    if (rinfo["fps_n"], rinfo["fps_d"]) != (dinfo["fps_n"], dinfo["fps_d"]):
        log(
            f"the inputs differ in frame rate ({rinfo['fps_n']}/{rinfo['fps_d']} and "
            f"{dinfo['fps_n']}/{dinfo['fps_d']}): convert one first"
        )
        return 2
    # vqmeter pairs frames by time and numbers them by the distorted input: the measured
    # frames are the distorted ones that have a reference frame at their time (the inputs'
    # first timestamps may differ, e.g. an MP4's B-frame delay).
    shift = round(
        (dinfo["first_pts"] - rinfo["first_pts"]) * dinfo["fps_n"] / (dinfo["fps_d"] * 1e9)
    )
    k0 = max(0, -shift)
    n = min(dinfo["frames"], rinfo["frames"] - shift)
    if n <= k0:
        log("the inputs have no frames at the same times")
        return 2
    if (k0, n) != (0, dinfo["frames"]):
        log(
            f"distorted frames {k0}..{n} of {dinfo['frames']} have a reference frame at their "
            f"time: measuring those"
        )
    chunks = [(s, min(s + a.chunk_frames, n)) for s in range(k0, n, a.chunk_frames)]
    log(f"{n - k0} frames of {dinfo['width']}x{dinfo['height']} in {len(chunks)} chunk(s)")

    # Chunk results live beside OUT, named by everything that decides them: a rerun of the
    # same command measures only the chunks that are missing.
    key = hashlib.sha256(
        json.dumps(
            [
                ref,
                os.path.getsize(ref),
                os.path.getmtime(ref),
                dist,
                os.path.getsize(dist),
                os.path.getmtime(dist),
                a.model,
                a.psnr,
                a.ssim,
                a.ms_ssim,
            ]
        ).encode()
    ).hexdigest()[:16]
    chunk_dir = f"{a.out}.chunks"

    def path_of(c):
        return os.path.join(chunk_dir, f"{key}-{c[0]:09d}-{c[1]:09d}.json")

    def args_of(c):
        args = [
            "measure",
            "--ref", ref,
            "--dist", dist,
            "--from", str(c[0]),
            "--to", str(c[1]),
            "--fps-n", str(dinfo["fps_n"]),
            "--fps-d", str(dinfo["fps_d"]),
            "--first-pts", str(dinfo["first_pts"]),
            "--ref-first-pts", str(rinfo["first_pts"]),
            "--title-start", str(k0),
            "--model", a.model,
            "--threads", str(a.threads_per_chunk),
        ]
        args += [f for f, on in (("--psnr", a.psnr), ("--ssim", a.ssim), ("--ms-ssim", a.ms_ssim)) if on]
        return args

    report = {c: {"from": c[0], "to": c[1], "retries": 0, "errors": []} for c in chunks}
    todo = []
    for c in chunks:
        if os.path.isfile(path_of(c)):
            report[c].update(status="reused", seconds=0.0, worker=None)
        else:
            todo.append(c)
    if len(todo) < len(chunks):
        log(f"{len(chunks) - len(todo)} chunk(s) reused from {chunk_dir}")

    progress = Progress(len(chunks))
    for c in chunks:
        if c not in todo:
            progress.done(f"chunk {c[0]}..{c[1]} reused")
    futures = {}
    submitted = {}

    def submit(c):
        f = client.submit(
            measure_chunk, worker_bin, args_of(c), a.chunk_timeout, pure=False,
            key=f"vq-chunk-{key}-{c[0]}-{c[1]}-{report[c]['retries']}",
        )
        futures[f] = c
        submitted[c] = time.time()
        return f

    pending = as_completed([submit(c) for c in todo])
    failed = []
    t_chunks = time.time()
    for f in pending:
        c = futures.pop(f)
        try:
            r = f.result()
        except Exception as e:  # noqa: BLE001 - a chunk's failure is reported, not raised
            err = f"{type(e).__name__}: {e}"
            report[c]["errors"].append(err)
            if report[c]["retries"] < a.retries:
                report[c]["retries"] += 1
                progress.note(f"chunk {c[0]}..{c[1]} failed ({err.splitlines()[0]}); retry {report[c]['retries']}")
                pending.add(submit(c))
            else:
                report[c]["status"] = "failed"
                failed.append(c)
                progress.done(f"chunk {c[0]}..{c[1]} FAILED: {err}")
            continue
        res = r["result"]
        with open(path_of(c) + ".tmp", "w") as fh:
            json.dump(res, fh)
        os.replace(path_of(c) + ".tmp", path_of(c))
        report[c].update(
            status="measured",
            seconds=r["seconds"],
            queued_seconds=time.time() - submitted[c] - r["seconds"],
            worker=f"{r['host']}:{r['pid']}",
        )
        progress.done(
            f"chunk {c[0]}..{c[1]} done in {r['seconds']:.1f} s on {r['host']}:{r['pid']}"
            + (f" after {report[c]['retries']} retr{'y' if report[c]['retries'] == 1 else 'ies'}" if report[c]["retries"] else "")
        )
    progress.close()
    t_chunks = time.time() - t_chunks

    summary = {
        "reference": ref,
        "distorted": dist,
        "frames": n - k0,
        "first_frame": k0,
        "chunk_frames": a.chunk_frames,
        "workers": a.workers if not a.address else None,
        "address": a.address,
        "seconds": {"cluster_start": t_cluster, "probe": t_probe, "chunks": t_chunks},
        "chunks": [report[c] for c in chunks],
    }
    report_path = f"{a.out}.report.json"
    if failed:
        with open(report_path, "w") as fh:
            json.dump(summary, fh, indent=2)
        for c in failed:
            log(f"chunk {c[0]}..{c[1]} failed: {report[c]['errors'][-1]}")
        log(
            f"{len(failed)} of {len(chunks)} chunk(s) failed; the others' results are kept in "
            f"{chunk_dir} and reused by the same command; report in {report_path}"
        )
        return 1
    try:
        out = run_worker(
            worker_bin,
            ["assemble", "--out", a.out, "--format", a.format] + [path_of(c) for c in chunks],
        )
    except RuntimeError as e:
        log(f"cannot assemble the chunks' results into {a.out}: {e}")
        return 1
    assembled = json.loads(out)
    for c, seg in zip(chunks, assembled["segments"]):
        report[c]["pooled"] = seg["pooled"]
    summary["pooled"] = assembled["pooled"]
    busy = sum(report[c].get("seconds", 0.0) for c in chunks)
    measured = [c for c in chunks if report[c]["status"] == "measured"]
    if measured and not a.address:
        # What the engine adds to each chunk beyond the worker's own run (scheduling,
        # transfer, the idle tail), as the driver sees it; unknown on a cluster of unknown size.
        summary["overhead_per_chunk_seconds"] = max(0.0, (t_chunks * a.workers - busy) / len(measured))
    with open(report_path, "w") as fh:
        json.dump(summary, fh, indent=2)
    score = assembled["pooled"].get("vmaf", {}).get("mean")
    log(
        f"{n - k0} frames in {len(chunks)} chunk(s), {t_chunks:.1f} s"
        + (f", pooled vmaf mean {score:.6f}" if score is not None else "")
        + f"; results {a.out}, report {report_path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
