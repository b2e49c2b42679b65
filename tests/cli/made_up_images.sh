# Sourced by the classify tests: made_up_images DIR writes a small made-up Fashion-MNIST-shaped
# set (IDX files: 64 training and 32 test images of random pixels, labels 0-9) into DIR.
idx() {  # idx FILE TYPE COUNT: the IDX header, then COUNT records of 28 x 28 pixels or labels
  local file="$1" dims="$2" count="$3"
  printf '\x00\x00\x08\x0'"$dims" > "$file"
  printf "\\x$(printf %02x $((count >> 24)))\\x$(printf %02x $((count >> 16 & 255)))\\x$(printf %02x $((count >> 8 & 255)))\\x$(printf %02x $((count & 255)))" >> "$file"
  if [ "$dims" = 3 ]; then
    printf '\x00\x00\x00\x1c\x00\x00\x00\x1c' >> "$file"
    head -c $((count * 784)) /dev/urandom >> "$file"
  else
    for i in $(seq 0 $((count - 1))); do printf "\\x0$((i % 10))" >> "$file"; done
  fi
}
made_up_images() {
  idx "$1/train-images-idx3-ubyte" 3 64
  idx "$1/train-labels-idx1-ubyte" 1 64
  idx "$1/t10k-images-idx3-ubyte" 3 32
  idx "$1/t10k-labels-idx1-ubyte" 1 32
}
