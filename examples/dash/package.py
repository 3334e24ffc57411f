#!/usr/bin/env python3
"""Cuts fragmented MP4 files (one per rendition, as mp4mux writes them with fragment-duration
set) into DASH segments and writes a static MPD (ISO BMFF live profile, SegmentTimeline).

    package.py OUTDIR MPD_NAME ID=FILE [ID=FILE ...]

Each FILE becomes OUTDIR/ID_init.mp4 (ftyp + moov) and OUTDIR/ID_N.m4s (N from 1), a media
segment starting at every fragment whose first sample is a sync sample. The renditions must
have their key frames at the same presentation times, otherwise a player could not switch
between them at segment boundaries: the script refuses a ladder whose segments do not line up.
Only the Python standard library is used, so the example needs nothing beyond python3.
"""
import os
import struct
import sys
from fractions import Fraction
from xml.sax.saxutils import quoteattr

NON_SYNC = 0x00010000  # sample_is_non_sync_sample in ISO/IEC 14496-12 sample flags


def boxes(data, start, end):
    pos = start
    while pos < end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ValueError(f"truncated {kind!r} box at {pos}")
        yield kind.decode("latin-1"), pos, pos + head, pos + size
        pos += size


def child(data, start, end, path):
    """The payload range of the first box along `path` (e.g. "trak/mdia/mdhd")."""
    first, _, rest = path.partition("/")
    for kind, _, payload, box_end in boxes(data, start, end):
        if kind == first:
            return (payload, box_end) if not rest else child(data, payload, box_end, rest)
    raise ValueError(f"no {path} box")


class Track:
    def __init__(self, data, moov):
        s, e = moov
        trak = child(data, s, e, "trak")
        mdhd = child(data, *trak, "mdia/mdhd")
        version = data[mdhd[0]]
        self.timescale = struct.unpack_from(">I", data, mdhd[0] + (20 if version else 12))[0]
        stsd = child(data, *trak, "mdia/minf/stbl/stsd")
        # stsd: version/flags, entry count, then the first sample entry.
        entry = next(boxes(data, stsd[0] + 8, stsd[1]))
        if entry[0] not in ("avc1", "avc3"):
            raise ValueError(f"sample entry {entry[0]}: only H.264 is packaged")
        # A VisualSampleEntry has 78 bytes of fields before its child boxes.
        self.width, self.height = struct.unpack_from(">HH", data, entry[2] + 24)
        avcc = child(data, entry[2] + 78, entry[3], "avcC")
        self.codecs = entry[0] + "." + data[avcc[0] + 1 : avcc[0] + 4].hex()
        try:
            trex = child(data, s, e, "mvex/trex")
            self.default_duration, _, self.default_flags = struct.unpack_from(
                ">III", data, trex[0] + 12
            )
        except ValueError:
            self.default_duration, self.default_flags = 0, 0


def fragment_samples(data, moof, track):
    """Decode time of the fragment and its samples as (duration, flags, composition offset)."""
    traf = child(data, *moof, "traf")
    tfhd = child(data, *traf, "tfhd")
    flags = struct.unpack_from(">I", data, tfhd[0])[0] & 0xFFFFFF
    pos = tfhd[0] + 8
    if flags & 0x01:
        pos += 8  # base data offset
    if flags & 0x02:
        pos += 4  # sample description index
    duration, frag_flags = track.default_duration, track.default_flags
    if flags & 0x08:
        duration = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    if flags & 0x10:
        pos += 4  # default sample size
    if flags & 0x20:
        frag_flags = struct.unpack_from(">I", data, pos)[0]
    tfdt = child(data, *traf, "tfdt")
    version = data[tfdt[0]]
    decode_time = struct.unpack_from(">Q" if version else ">I", data, tfdt[0] + 4)[0]
    samples = []
    for kind, _, payload, _ in boxes(data, *traf):
        if kind != "trun":
            continue
        vf = struct.unpack_from(">I", data, payload)[0]
        version, tflags = vf >> 24, vf & 0xFFFFFF
        count = struct.unpack_from(">I", data, payload + 4)[0]
        pos = payload + 8
        if tflags & 0x01:
            pos += 4  # data offset
        first_flags = None
        if tflags & 0x04:
            first_flags = struct.unpack_from(">I", data, pos)[0]
            pos += 4
        for i in range(count):
            d, f, cto = duration, frag_flags, 0
            if tflags & 0x100:
                d = struct.unpack_from(">I", data, pos)[0]
                pos += 4
            if tflags & 0x200:
                pos += 4  # sample size
            if tflags & 0x400:
                f = struct.unpack_from(">I", data, pos)[0]
                pos += 4
            if tflags & 0x800:
                cto = struct.unpack_from(">i" if version else ">I", data, pos)[0]
                pos += 4
            if i == 0 and first_flags is not None:
                f = first_flags
            samples.append((d, f, cto))
    return decode_time, samples


def cut(path, outdir, rep_id):
    """Writes the init and media segments of one rendition; returns its description."""
    with open(path, "rb") as f:
        data = f.read()
    top = list(boxes(data, 0, len(data)))
    kinds = [k for k, *_ in top]
    if "moov" not in kinds or "moof" not in kinds:
        raise ValueError(f"{path} is not a fragmented MP4 (boxes: {kinds[:8]})")
    ftyp = next(b for b in top if b[0] == "ftyp")
    moov = next(b for b in top if b[0] == "moov")
    track = Track(data, (moov[2], moov[3]))
    init = f"{rep_id}_init.mp4"
    with open(os.path.join(outdir, init), "wb") as f:
        # Only ftyp and moov: the uuid (XMP) box mp4mux may add between them is not part of
        # an initialization segment.
        f.write(data[ftyp[1] : ftyp[3]] + data[moov[1] : moov[3]])
    # Group moof+mdat pairs into segments, each opened by a fragment starting with a sync sample.
    segments = []  # [earliest presentation time, end time, [byte ranges], size]
    sample_durations = set()
    i = 0
    while i < len(top):
        kind, start, payload, end = top[i]
        if kind != "moof":
            i += 1
            continue
        if i + 1 >= len(top) or top[i + 1][0] != "mdat":
            raise ValueError(f"{path}: moof at {start} is not followed by mdat")
        decode_time, samples = fragment_samples(data, (payload, end), track)
        if not samples:
            raise ValueError(f"{path}: empty fragment at {start}")
        t, pts = decode_time, []
        for d, _, cto in samples:
            pts.append(t + cto)
            t += d
            sample_durations.add(d)
        first_pts, last_end = min(pts), max(p + d for p, (d, _, _) in zip(pts, samples))
        if not samples[0][1] & NON_SYNC:
            segments.append([first_pts, last_end, [], 0])
        elif not segments:
            raise ValueError(f"{path}: the first fragment does not start with a key frame")
        seg = segments[-1]
        seg[0], seg[1] = min(seg[0], first_pts), max(seg[1], last_end)
        seg[2].append((start, top[i + 1][3]))
        seg[3] += top[i + 1][3] - start
        i += 2
    for n, (_, _, ranges, _) in enumerate(segments, 1):
        with open(os.path.join(outdir, f"{rep_id}_{n}.m4s"), "wb") as f:
            for a, b in ranges:
                f.write(data[a:b])
    times = [s[0] for s in segments] + [segments[-1][1]]
    durations = [b - a for a, b in zip(times, times[1:])]
    # DASH's bandwidth: a rate at which every segment arrives within its own duration.
    peak = max(s[3] * 8 * track.timescale / d for s, d in zip(segments, durations))
    rates = {Fraction(track.timescale, d) for d in sample_durations if d}
    return {
        "id": rep_id,
        "track": track,
        "init": init,
        "times": times,
        "durations": durations,
        "bandwidth": int(peak) + 1,
        "frame_rate": rates.pop() if len(rates) == 1 else None,
    }


def timeline(rep):
    """SegmentTimeline S elements, runs of equal durations folded into @r."""
    out, runs = [], []
    for d in rep["durations"]:
        if runs and runs[-1][0] == d:
            runs[-1][1] += 1
        else:
            runs.append([d, 0])
    t = rep["times"][0]
    for i, (d, r) in enumerate(runs):
        attrs = (f' t="{t}"' if i == 0 else "") + f' d="{d}"' + (f' r="{r}"' if r else "")
        out.append(f"<S{attrs}/>")
        t += d * (r + 1)
    return "".join(out)


def iso_duration(seconds):
    return f"PT{seconds:.3f}S"


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    outdir, mpd_name = argv[1], argv[2]
    reps = []
    for arg in argv[3:]:
        rep_id, _, path = arg.partition("=")
        reps.append(cut(path, outdir, rep_id))
    # Switching needs every rendition cut at the same presentation times.
    ref = reps[0]
    for rep in reps[1:]:
        a = [Fraction(t, ref["track"].timescale) for t in ref["times"][:-1]]
        b = [Fraction(t, rep["track"].timescale) for t in rep["times"][:-1]]
        if a != b:
            sys.exit(
                f"{rep['id']} is not segment-aligned with {ref['id']}: segment starts "
                f"{[float(x) for x in b[:6]]} against {[float(x) for x in a[:6]]}"
            )
    start = Fraction(ref["times"][0], ref["track"].timescale)
    total = max(Fraction(r["times"][-1], r["track"].timescale) for r in reps) - start
    longest = max(
        Fraction(d, r["track"].timescale) for r in reps for d in r["durations"]
    )
    reps.sort(key=lambda r: r["bandwidth"])
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"'
        ' profiles="urn:mpeg:dash:profile:isoff-live:2011"'
        f' mediaPresentationDuration="{iso_duration(float(total))}"'
        f' minBufferTime="{iso_duration(float(longest))}">',
        '  <Period id="0" start="PT0S">',
        '    <AdaptationSet id="1" contentType="video" mimeType="video/mp4"'
        ' segmentAlignment="true" startWithSAP="1">',
    ]
    for rep in reps:
        tr = rep["track"]
        fr = f' frameRate="{rep["frame_rate"]}"' if rep["frame_rate"] else ""
        lines += [
            f'      <Representation id={quoteattr(rep["id"])} width="{tr.width}"'
            f' height="{tr.height}" codecs="{tr.codecs}" bandwidth="{rep["bandwidth"]}"{fr}>',
            f'        <SegmentTemplate timescale="{tr.timescale}"'
            f' presentationTimeOffset="{rep["times"][0]}"'
            f' initialization={quoteattr(rep["init"])}'
            f' media={quoteattr(rep["id"] + "_$Number$.m4s")} startNumber="1">',
            f"          <SegmentTimeline>{timeline(rep)}</SegmentTimeline>",
            "        </SegmentTemplate>",
            "      </Representation>",
        ]
    lines += ["    </AdaptationSet>", "  </Period>", "</MPD>", ""]
    with open(os.path.join(outdir, mpd_name), "w") as f:
        f.write("\n".join(lines))
    for rep in reps:
        print(
            f"{rep['id']}: {rep['track'].width}x{rep['track'].height} {rep['track'].codecs}, "
            f"{len(rep['durations'])} segments, peak {rep['bandwidth'] // 1000} kbit/s"
        )


if __name__ == "__main__":
    main(sys.argv)
