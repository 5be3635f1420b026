#!/usr/bin/env bash
# How the sample shots were made (Debian's ffmpeg). They are committed, so this runs
# only when they need remaking. Videos: 320 × 180, 2 s, H.264 baseline, no audio,
# faststart. Still images (what the model most likely gives, `--image-shots`): JPEGs of
# three real photos from scikit-image's sample data (`pip download --no-deps
# scikit-image`, skimage/data/): coffee.png (Rachel Michetti, CC0), chelsea.png (Stefan
# van der Walt, CC0) and astronaut.png (NASA, public domain), given as SKIMAGE_DATA.
set -euo pipefail
cd "$(dirname "$0")"
i=1
for src in "testsrc2=size=320x180:rate=15" "smptebars=size=320x180:rate=15" "mandelbrot=size=320x180:rate=15"; do
  ffmpeg -loglevel error -y -f lavfi -i "$src" -t 2 -c:v libx264 -profile:v baseline \
    -pix_fmt yuv420p -crf 32 -movflags +faststart -an "shot-$i.mp4"
  i=$((i + 1))
done
if [ -n "${SKIMAGE_DATA:-}" ]; then
  i=1
  for photo in coffee chelsea astronaut; do
    ffmpeg -loglevel error -y -i "$SKIMAGE_DATA/$photo.png" -q:v 3 "shot-$i.jpg"
    i=$((i + 1))
  done
fi
