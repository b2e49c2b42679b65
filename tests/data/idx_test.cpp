// The IDX loader (models/idx.h): parse_idx on byte arrays written out by hand (big-endian dims),
// every malformed-file error naming the file and the problem, read_idx on plain and gzipped files,
// and load_image_dataset's checks and its scaling ((v / 255 - mean) / std, as float32).
#include <doctest/doctest.h>

#include <unistd.h>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/idx.h"
#include "helpers.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

// An IDX file: 00 00, the type code, the rank, each dim as 4 big-endian bytes, then `data`.
// `rank` defaults to dims.size(); passing another value writes an inconsistent header.
Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08,
                int rank = -1) {
  Bytes b = {0x00, 0x00, type,
             static_cast<std::uint8_t>(rank < 0 ? static_cast<int>(dims.size()) : rank)};
  for (std::uint32_t d : dims) {
    b.push_back(static_cast<std::uint8_t>(d >> 24));
    b.push_back(static_cast<std::uint8_t>(d >> 16));
    b.push_back(static_cast<std::uint8_t>(d >> 8));
    b.push_back(static_cast<std::uint8_t>(d));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// 0, 1, 2, ... (mod 256): `n` bytes of data.
Bytes counting(std::size_t n, std::uint8_t start = 0) {
  Bytes d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>(start + i);
  return d;
}

// A fresh directory under the system's temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("seqgrad_idx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `bytes` to `name` in the directory and returns the full path.
  std::string write(const std::string& name, const Bytes& bytes) const {
    const fs::path p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// doctest::Contains for a std::string (doctest::String copies it).
doctest::Contains contains(const std::string& s) { return doctest::Contains(s.c_str()); }

// A path in single quotes for the shell.
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool have_gzip() { return std::system("command -v gzip >/dev/null 2>&1") == 0; }

// gzip -c path > path.gz (the plain file is kept); returns the .gz path.
std::string gzip_copy(const std::string& path) {
  const std::string gz = path + ".gz";
  const int rc = std::system(("gzip -c -- " + shell_quote(path) + " > " + shell_quote(gz)).c_str());
  REQUIRE(rc == 0);
  return gz;
}

// 2 images of 2 x 3 pixels and their labels.
const std::vector<std::uint8_t> kPixels = {0, 255, 51, 102, 153, 204, 1, 2, 3, 128, 127, 254};
const std::vector<std::uint8_t> kLabels = {3, 9};

}  // namespace

// --- parse_idx: valid files
// ---------------------------------------------------------------------------

TEST_CASE("idx: a 3-D unsigned-byte file parses with its shape and values") {
  const Bytes data = counting(2 * 3 * 4, 250);  // wraps past 255, so values 250..255, 0..17
  const data::IdxArray a = data::parse_idx(idx_bytes({2, 3, 4}, data), "images.idx");
  CHECK(a.shape == Dims{2, 3, 4});
  CHECK(a.values == data);
  CHECK(a.values.front() == 250);
  CHECK(a.values[6] == 0);
}

TEST_CASE("idx: big-endian dims larger than one byte") {
  // 2 x 300 (0x0000012c): a little-endian reader would see 0x2c010000.
  const Bytes data = counting(600);
  const Bytes b = idx_bytes({2, 300}, data);
  CHECK(b[8] == 0x00);
  CHECK(b[10] == 0x01);
  CHECK(b[11] == 0x2c);
  const data::IdxArray a = data::parse_idx(b, "wide.idx");
  CHECK(a.shape == Dims{2, 300});
  CHECK(a.values == data);
}

TEST_CASE("idx: a 1-D labels file parses") {
  const Bytes labels = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
  const data::IdxArray a = data::parse_idx(idx_bytes({10}, labels), "labels.idx");
  CHECK(a.shape == Dims{10});
  CHECK(a.values == labels);
}

TEST_CASE("idx: rank 4 and empty arrays are valid") {
  const data::IdxArray a = data::parse_idx(idx_bytes({1, 2, 1, 3}, counting(6)), "r4.idx");
  CHECK(a.shape == Dims{1, 2, 1, 3});
  CHECK(a.values.size() == 6);
  const data::IdxArray e = data::parse_idx(idx_bytes({0}, {}), "empty.idx");
  CHECK(e.shape == Dims{0});
  CHECK(e.values.empty());
  const data::IdxArray e3 = data::parse_idx(idx_bytes({0, 28, 28}, {}), "no-images.idx");
  CHECK(e3.shape == Dims{0, 28, 28});
  CHECK(e3.values.empty());
}

// --- parse_idx: errors name the file and the problem
// ---------------------------------------------------

TEST_CASE("idx: a bad magic number is rejected") {
  Bytes b = idx_bytes({3}, {1, 2, 3});
  SUBCASE("first byte nonzero") {
    b[0] = 0x1f;
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "bad-magic.idx"),
                         contains("bad-magic.idx: not an IDX file"), Error);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "bad-magic.idx"), contains("1f 00"), Error);
  }
  SUBCASE("second byte nonzero") {
    b[1] = 0x8b;
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "bad-magic.idx"), contains("magic number starts 00 8b"),
                         Error);
  }
  SUBCASE("a gzip header read as IDX") {
    const Bytes gz = {0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0};
    CHECK_THROWS_WITH_AS(data::parse_idx(gz, "x.gz"), contains("x.gz: not an IDX file"), Error);
  }
  SUBCASE("shorter than the magic number") {
    CHECK_THROWS_WITH_AS(data::parse_idx({0, 0, 8}, "tiny.idx"),
                         contains("tiny.idx: not an IDX file: 3 bytes"), Error);
    CHECK_THROWS_WITH_AS(data::parse_idx({}, "empty.idx"), contains("empty.idx"), Error);
  }
}

TEST_CASE("idx: type codes other than unsigned byte are rejected") {
  // 0x09 signed byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double, and a made-up one.
  for (std::uint8_t type : {0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x42, 0x00}) {
    INFO("type code ", int{type});
    const Bytes b = idx_bytes({2}, {1, 2}, type);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "typed.idx"), contains("typed.idx"), Error);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "typed.idx"),
                         contains(fmt::format("type code 0x{:02x}", type)), Error);
  }
}

TEST_CASE("idx: rank 0 and ranks above 4 are rejected") {
  CHECK_THROWS_WITH_AS(data::parse_idx(idx_bytes({}, {}), "r0.idx"),
                       contains("r0.idx: IDX rank 0 is not supported"), Error);
  CHECK_THROWS_WITH_AS(data::parse_idx(idx_bytes({}, {5}), "r0.idx"), contains("rank 0"), Error);
  CHECK_THROWS_WITH_AS(data::parse_idx(idx_bytes({1, 1, 1, 1, 1}, {9}), "r5.idx"),
                       contains("r5.idx: IDX rank 5 is not supported"), Error);
  // A huge rank with no dims behind it: rejected before the header is read.
  CHECK_THROWS_WITH_AS(data::parse_idx(idx_bytes({}, {}, 0x08, 255), "r255.idx"),
                       contains("r255.idx: IDX rank 255 is not supported"), Error);
}

TEST_CASE("idx: a truncated header is rejected") {
  // Rank 3 needs 4 + 12 bytes; cut it inside the dims.
  const Bytes full = idx_bytes({2, 3, 4}, counting(24));
  for (std::size_t len : {4, 5, 8, 15}) {
    INFO("length ", len);
    const Bytes b(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "cut.idx"), contains("cut.idx: truncated IDX header"),
                         Error);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "cut.idx"), contains("need 16"), Error);
  }
}

TEST_CASE("idx: data shorter than the dims say is rejected") {
  SUBCASE("one byte short") {
    const Bytes b = idx_bytes({2, 3, 4}, counting(23));
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "short.idx"), contains("short.idx"), Error);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "short.idx"),
                         contains("need 24 bytes of data, the file has 23"), Error);
  }
  SUBCASE("header only") {
    const Bytes b = idx_bytes({60000, 28, 28}, {});
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "hdr.idx"), contains("hdr.idx"), Error);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "hdr.idx"), contains("[60000"), Error);
  }
}

TEST_CASE("idx: data longer than the dims say is rejected") {
  const Bytes b = idx_bytes({2, 3, 4}, counting(25));
  CHECK_THROWS_WITH_AS(data::parse_idx(b, "long.idx"), contains("long.idx"), Error);
  CHECK_THROWS_WITH_AS(data::parse_idx(b, "long.idx"),
                       contains("need 24 bytes of data, the file has 25"), Error);
  // Two files concatenated.
  const Bytes one = idx_bytes({3}, {1, 2, 3});
  Bytes two = one;
  two.insert(two.end(), one.begin(), one.end());
  CHECK_THROWS_WITH_AS(data::parse_idx(two, "cat.idx"), contains("trailing data"), Error);
}

TEST_CASE("idx: dims whose product overflows are rejected") {
  const std::uint32_t max = 0xffffffffu;
  SUBCASE("four maximal dims: 2^128 elements") {
    const Bytes b = idx_bytes({max, max, max, max}, counting(16));
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "huge.idx"), contains("huge.idx"), Error);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "huge.idx"), contains("[4294967295"), Error);
  }
  SUBCASE("a product that wraps around to exactly the data length in 64 bits") {
    // 2^32 * 2^32 = 2^64 wraps to 0 in uint64: dims [65536, 65536, 65536, 65536] and no data.
    const Bytes b = idx_bytes({65536, 65536, 65536, 65536}, {});
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "wrap.idx"), contains("wrap.idx"), Error);
  }
  SUBCASE("a zero dim before huge ones: no data, but sizes that overflow int64") {
    // 0 elements, yet the row-major strides (max^3) do not fit in 64 bits.
    const Bytes b = idx_bytes({0, max, max, max}, {});
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "zero-huge.idx"), contains("zero-huge.idx"), Error);
    CHECK_THROWS_WITH_AS(data::parse_idx(b, "zero-huge.idx"), contains("overflow"), Error);
  }
}

// --- files
// -----------------------------------------------------------------------------------------------

TEST_CASE("idx: read_idx reads a file, names it in errors, and reads .gz through gzip") {
  TempDir dir;
  const Bytes bytes = idx_bytes({2, 2, 3}, kPixels);
  const std::string plain = dir.write("images-idx3-ubyte", bytes);
  const data::IdxArray a = data::read_idx(plain);
  CHECK(a.shape == Dims{2, 2, 3});
  CHECK(a.values == kPixels);
  CHECK(data::read_file_bytes(plain) == bytes);

  const std::string missing = (dir.path() / "missing-idx1-ubyte").string();
  CHECK_THROWS_WITH_AS(data::read_idx(missing), contains(missing + ": cannot open file"), Error);
  CHECK_THROWS_WITH_AS(data::read_idx(missing + ".gz"), contains("cannot open file"), Error);

  const std::string bad = dir.write("bad-idx1-ubyte", idx_bytes({4}, {1, 2}));
  CHECK_THROWS_WITH_AS(data::read_idx(bad), contains(bad + ": IDX dims [4]"), Error);

  if (!have_gzip()) {
    MESSAGE("gzip not found: .gz reading not tested");
    return;
  }
  const std::string gz = gzip_copy(plain);
  CHECK(data::read_file_bytes(gz) == bytes);
  const data::IdxArray b = data::read_idx(gz);
  CHECK(b.shape == a.shape);
  CHECK(b.values == a.values);
  // A name with a quote and a space goes through the shell quoting intact.
  const std::string odd = dir.write("it's here-idx3-ubyte", bytes);
  CHECK(data::read_idx(gzip_copy(odd)).values == kPixels);
  // Not gzip data behind a .gz name.
  const std::string fake = dir.write("fake-idx3-ubyte.gz", bytes);
  CHECK_THROWS_WITH_AS(data::read_idx(fake), contains(fake + ": gzip could not"), Error);
  // A gzipped file that is not a valid IDX file: the error names the .gz file.
  const std::string bad_gz = gzip_copy(bad);
  CHECK_THROWS_WITH_AS(data::read_idx(bad_gz), contains(bad_gz + ": IDX dims"), Error);
}

TEST_CASE("idx: load_image_dataset scales, standardises and checks labels") {
  TempDir dir;
  const std::string images = dir.write("images", idx_bytes({2, 2, 3}, kPixels));
  const std::string labels = dir.write("labels", idx_bytes({2}, kLabels));
  const double mean = 0.25, stdev = 0.5;

  const data::ImageDataset set = data::load_image_dataset(images, labels, 10, mean, stdev);
  REQUIRE(set.images.shape() == Dims{2, 1, 2, 3});
  CHECK(set.images.dtype() == kFloat32);
  REQUIRE(set.labels.shape() == Dims{2});
  CHECK(set.labels.dtype() == kInt64);
  CHECK(set.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 9});
  // (v / 255 - mean) / std: 0 -> -0.5, 255 -> 1.5, 51 -> (0.2 - 0.25) / 0.5 = -0.1, ...
  std::vector<double> expected;
  for (std::uint8_t v : kPixels) expected.push_back((v / 255.0 - mean) / stdev);
  expect_values(set.images, {2, 1, 2, 3}, expected, 1e-6);
  const auto px = set.images.to_vector<float>();
  CHECK(px[0] == doctest::Approx(-0.5).epsilon(1e-6));
  CHECK(px[1] == doctest::Approx(1.5).epsilon(1e-6));
  CHECK(px[2] == doctest::Approx(-0.1).epsilon(1e-5));
  CHECK(px[3] == doctest::Approx(0.3).epsilon(1e-5));  // 102 / 255 = 0.4

  // mean 0, std 1: plain scaling to [0, 1].
  const data::ImageDataset unit = data::load_image_dataset(images, labels, 10, 0.0, 1.0);
  std::vector<double> scaled;
  for (std::uint8_t v : kPixels) scaled.push_back(v / 255.0);
  expect_values(unit.images, {2, 1, 2, 3}, scaled, 1e-6);

  if (have_gzip()) {
    const data::ImageDataset gz =
        data::load_image_dataset(gzip_copy(images), gzip_copy(labels), 10, mean, stdev);
    CHECK(gz.images.to_vector<float>() == set.images.to_vector<float>());
    CHECK(gz.labels.to_vector<std::int64_t>() == set.labels.to_vector<std::int64_t>());
  }
}

TEST_CASE("idx: load_image_dataset rejects mismatched files and bad labels") {
  TempDir dir;
  const std::string images = dir.write("images", idx_bytes({2, 2, 3}, kPixels));
  const std::string labels = dir.write("labels", idx_bytes({2}, kLabels));
  SUBCASE("more labels than images") {
    const std::string three = dir.write("three-labels", idx_bytes({3}, {1, 2, 3}));
    CHECK_THROWS_WITH_AS(data::load_image_dataset(images, three, 10, 0.0, 1.0),
                         contains(images + " has 2 images but " + three + " has 3 labels"), Error);
  }
  SUBCASE("a label equal to the number of classes") {
    const std::string ten = dir.write("ten", idx_bytes({2}, {0, 10}));
    CHECK_THROWS_WITH_AS(data::load_image_dataset(images, ten, 10, 0.0, 1.0),
                         contains(ten + ": label 10 at index 1 is not below the 10"), Error);
    // With 11 classes the same file is fine.
    CHECK(data::load_image_dataset(images, ten, 11, 0.0, 1.0).labels.to_vector<std::int64_t>() ==
          std::vector<std::int64_t>{0, 10});
  }
  SUBCASE("a label of 255") {
    const std::string big = dir.write("big", idx_bytes({2}, {255, 0}));
    CHECK_THROWS_WITH_AS(data::load_image_dataset(images, big, 10, 0.0, 1.0),
                         contains("label 255 at index 0"), Error);
  }
  SUBCASE("files swapped") {
    CHECK_THROWS_WITH_AS(data::load_image_dataset(labels, images, 10, 0.0, 1.0),
                         contains(labels + ": expected images of rank 3"), Error);
  }
  SUBCASE("labels of rank 2") {
    const std::string two = dir.write("labels2", idx_bytes({2, 1}, kLabels));
    CHECK_THROWS_WITH_AS(data::load_image_dataset(images, two, 10, 0.0, 1.0),
                         contains(two + ": expected labels of rank 1"), Error);
  }
  SUBCASE("a std that is not positive") {
    for (double s : {0.0, -1.0}) {
      INFO("std ", s);
      CHECK_THROWS_WITH_AS(data::load_image_dataset(images, labels, 10, 0.0, s), contains("std"),
                           Error);
    }
  }
  SUBCASE("a corrupt images file") {
    const std::string cut = dir.write("cut", idx_bytes({2, 2, 3}, counting(11)));
    CHECK_THROWS_WITH_AS(data::load_image_dataset(cut, labels, 10, 0.0, 1.0),
                         contains(cut + ": IDX dims [2, 2, 3] need 12 bytes"), Error);
  }
}
