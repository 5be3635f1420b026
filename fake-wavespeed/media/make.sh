#!/usr/bin/env bash
# How the sample shots were made (Debian's ffmpeg). They are committed, so this runs
# only when they need remaking: 320 × 180, 2 s, H.264 baseline, no audio, faststart.
set -euo pipefail
cd "$(dirname "$0")"
i=1
for src in "testsrc2=size=320x180:rate=15" "smptebars=size=320x180:rate=15" "mandelbrot=size=320x180:rate=15"; do
  ffmpeg -loglevel error -y -f lavfi -i "$src" -t 2 -c:v libx264 -profile:v baseline \
    -pix_fmt yuv420p -crf 32 -movflags +faststart -an "shot-$i.mp4"
  i=$((i + 1))
done
