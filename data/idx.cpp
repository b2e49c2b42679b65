#include "data/idx.h"

#include <sys/wait.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace seqgrad::data {

IdxArray parse_idx(const std::vector<std::uint8_t>& b, const std::string& name) {
  check(b.size() >= 4, "{}: not an IDX file: {} bytes, shorter than the 4-byte magic number", name,
        b.size());
  check(b[0] == 0 && b[1] == 0,
        "{}: not an IDX file: magic number starts {:02x} {:02x}, expected 00 00", name, b[0], b[1]);
  check(b[2] == 0x08, "{}: IDX type code 0x{:02x} is not supported (only unsigned bytes, 0x08)",
        name, b[2]);
  const int rank = b[3];
  check(rank >= 1 && rank <= 4, "{}: IDX rank {} is not supported (1 to 4)", name, rank);
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  check(b.size() >= header, "{}: truncated IDX header: {} bytes, the {} dims need {}", name,
        b.size(), rank, header);
  IdxArray out;
  // A zero dim makes the array empty whatever the other dims are, but seqgrad still multiplies
  // them (row-major strides, byte strides of up to 8-byte dtypes) as int64: the product of the
  // nonzero dims must stay far from overflowing. It also bounds `count` below 2^60.
  constexpr std::uint64_t kMaxExtent = std::uint64_t{1} << 60;
  std::uint64_t count = 1, extent = 1;
  for (int d = 0; d < rank; ++d) {
    const std::size_t o = 4 + 4 * static_cast<std::size_t>(d);
    const std::uint32_t size = (std::uint32_t{b[o]} << 24) | (std::uint32_t{b[o + 1]} << 16) |
                               (std::uint32_t{b[o + 2]} << 8) | std::uint32_t{b[o + 3]};
    out.shape.push_back(size);
    if (size != 0) {
      check(extent <= kMaxExtent / size,
            "{}: IDX dims {} overflow: the product of the nonzero dims exceeds 2^60", name,
            out.shape);
      extent *= size;
    }
    count *= size;
    check(count <= b.size(), "{}: IDX dims {} need more data than the file's {} bytes", name,
          out.shape, b.size());
  }
  check(b.size() - header == count,
        "{}: IDX dims {} need {} bytes of data, the file has {} (truncated or trailing data)", name,
        out.shape, count, b.size() - header);
  out.values.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return out;
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (!gz) {
    std::ifstream in(path, std::ios::binary);
    check(in.good(), "{}: cannot open file", path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  {
    std::ifstream probe(path, std::ios::binary);
    check(probe.good(), "{}: cannot open file", path);
  }
  // The path is passed in single quotes; a quote inside it is closed, escaped and reopened.
  std::string quoted = "'";
  for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  FILE* pipe = popen(("gzip -dc -- " + quoted + " 2>/dev/null").c_str(), "r");
  check(pipe != nullptr, "{}: cannot run gzip to decompress it", path);
  std::vector<std::uint8_t> bytes;
  std::uint8_t buf[1 << 16];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  const int status = pclose(pipe);
  check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "{}: gzip could not decompress it (corrupt or not gzip data)", path);
  return bytes;
}

IdxArray read_idx(const std::string& path) { return parse_idx(read_file_bytes(path), path); }

ImageDataset load_image_dataset(const std::string& images_path, const std::string& labels_path,
                                std::int64_t num_classes, double mean, double std) {
  check(std > 0 && std::isfinite(std) && std::isfinite(mean),
        "load_image_dataset: need a finite mean and a positive, finite std, got mean {} std {}",
        mean, std);
  const IdxArray images = read_idx(images_path), labels = read_idx(labels_path);
  check(images.shape.size() == 3, "{}: expected images of rank 3 [N, H, W], got dims {}",
        images_path, images.shape);
  check(labels.shape.size() == 1, "{}: expected labels of rank 1 [N], got dims {}", labels_path,
        labels.shape);
  check(images.shape[0] == labels.shape[0], "{} has {} images but {} has {} labels", images_path,
        images.shape[0], labels_path, labels.shape[0]);
  const std::int64_t n = images.shape[0], h = images.shape[1], w = images.shape[2];
  ImageDataset out{Tensor::empty({n, 1, h, w}, kFloat32), Tensor::empty({n}, kInt64)};
  float* px = out.images.data<float>();
  const float scale = static_cast<float>(1.0 / (255.0 * std)),
              shift = static_cast<float>(mean / std);
  for (std::size_t i = 0; i < images.values.size(); ++i) px[i] = images.values[i] * scale - shift;
  std::int64_t* lp = out.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    check(labels.values[static_cast<std::size_t>(i)] < num_classes,
          "{}: label {} at index {} is not below the {} classes", labels_path,
          labels.values[static_cast<std::size_t>(i)], i, num_classes);
    lp[i] = labels.values[static_cast<std::size_t>(i)];
  }
  return out;
}

}  // namespace seqgrad::data
