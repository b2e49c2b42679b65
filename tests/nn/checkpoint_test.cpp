// Checkpoints: exact round trips, the byte layout, atomic writes, and a long list of damaged files
// that must each be refused with a message naming the file and the problem, without touching the
// module being loaded into.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include <fmt/ranges.h>

#include "helpers.h"
#include "nn/all.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test under the system temp directory, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            fmt::format("seqgrad_checkpoint_test_{}_{}", ::getpid(), counter++);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string u64_le(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file from a header written out by hand: length prefix, header, spaces up to a
// multiple of 8, data.
std::string safetensors_bytes(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return u64_le(header.size()) + header + data;
}

std::string floats_le(std::initializer_list<float> values) {
  std::string s;
  for (float v : values) {
    char b[4];
    std::memcpy(b, &v, 4);  // the test host is little-endian, as checkpoint.cpp asserts
    s.append(b, 4);
  }
  return s;
}

// The message of the Error `f` throws, or "" when it throws nothing.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::shared_ptr<nn::Sequential> make_net(std::uint64_t seed, DType dtype = kFloat32) {
  Generator gen(seed);
  return std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
      std::make_shared<nn::Linear>(3, 4, true, dtype, &gen), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(4, 2, true, dtype, &gen)});
}

std::map<std::string, std::vector<double>> snapshot(const nn::Module& m) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, p] : m.named_parameters())
    out[name] = p.value().to(kFloat64).to_vector<double>();
  return out;
}

// The refusal every damaged file must get: an Error that names the file and the problem, and a
// module left exactly as it was.
void expect_load_fails(const std::string& path, const std::string& problem) {
  auto net = make_net(99);
  const auto before = snapshot(*net);
  const std::string message = error_of([&] { nn::load(*net, path); });
  INFO("message: " << message);
  CHECK(contains(message, "'" + path + "'"));
  CHECK(contains(message, problem));
  CHECK(snapshot(*net) == before);
}

}  // namespace

// ---- round trips ------------------------------------------------------------------------------

TEST_CASE("checkpoint: float32, float64, int64 and bool tensors and metadata round-trip exactly") {
  TempDir dir;
  const std::string path = dir.file("all_dtypes.safetensors");
  const Tensor f32 =
      from_vector(std::vector<float>{1.5f, -0.0f, 3.25e-8f, 1e30f, -7.f, 0.1f}, {2, 3});
  const Tensor f64 = from_vector(std::vector<double>{0.1, -1e300, 4.9e-324}, {3});
  const Tensor i64 =
      from_vector(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1, 0, 1,
                                            std::numeric_limits<std::int64_t>::max(), 42},
                  {3, 1, 2});
  const Tensor mask = gt(from_vector(std::vector<float>{1, -1, 2, -2, 0}, {5}), 0.0);
  REQUIRE(mask.dtype() == kBool);
  const std::map<std::string, std::string> meta = {{"format", "seqgrad-checkpoint"},
                                                   {"config", R"({"hidden": 64})"},
                                                   {"vocab", "[\"<pad>\", \"é\", \"\\t\"]"},
                                                   {"empty", ""}};
  nn::save_safetensors(path, {{"w", f32}, {"d", f64}, {"ids", i64}, {"mask", mask}}, meta);
  CHECK_FALSE(fs::exists(path + ".tmp"));

  const nn::SafetensorsFile file = nn::load_safetensors(path);
  CHECK(file.metadata == meta);
  REQUIRE(file.tensors.size() == 4);
  const Tensor& w = file.tensors.at("w");
  CHECK(w.dtype() == kFloat32);
  CHECK(w.shape() == Dims{2, 3});
  CHECK(w.to_vector<float>() == f32.to_vector<float>());
  CHECK(std::signbit(w.to_vector<float>()[1]));  // -0.0 keeps its sign: bytes, not values
  const Tensor& d = file.tensors.at("d");
  CHECK(d.dtype() == kFloat64);
  CHECK(d.to_vector<double>() == f64.to_vector<double>());
  const Tensor& ids = file.tensors.at("ids");
  CHECK(ids.dtype() == kInt64);
  CHECK(ids.shape() == Dims{3, 1, 2});
  CHECK(ids.to_vector<std::int64_t>() == i64.to_vector<std::int64_t>());
  const Tensor& m = file.tensors.at("mask");
  CHECK(m.dtype() == kBool);
  CHECK(m.to(kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1, 0, 0});
}

TEST_CASE("checkpoint: non-contiguous, 0-d and empty tensors round-trip") {
  TempDir dir;
  const std::string path = dir.file("shapes.safetensors");
  const Tensor base = arange(0.0, 6.0, 1.0, kFloat32).reshape({2, 3});
  const Tensor transposed = base.t();  // a strided view: saved in its logical row-major order
  REQUIRE_FALSE(transposed.is_contiguous());
  nn::save_safetensors(path, {{"t", transposed},
                              {"scalar", scalar_tensor(2.5, kFloat64)},
                              {"empty", zeros({0, 4}, kInt64)}});
  const auto file = nn::load_safetensors(path);
  testing::expect_values(file.tensors.at("t"), {3, 2}, {0, 3, 1, 4, 2, 5});
  CHECK(file.tensors.at("scalar").dim() == 0);
  CHECK(file.tensors.at("scalar").item() == 2.5);
  CHECK(file.tensors.at("empty").shape() == Dims{0, 4});
  CHECK(file.tensors.at("empty").dtype() == kInt64);
  CHECK(file.metadata.empty());
}

TEST_CASE("checkpoint: a saved Sequential loads into a fresh one with identical parameters") {
  TempDir dir;
  const std::string path = dir.file("net.safetensors");
  for (DType dtype : {kFloat32, kFloat64}) {
    auto trained = make_net(1, dtype);
    auto fresh = make_net(2, dtype);
    REQUIRE(snapshot(*trained) != snapshot(*fresh));
    nn::save(*trained, path, {{"step", "1200"}});
    const auto meta = nn::load(*fresh, path);
    CHECK(meta == std::map<std::string, std::string>{{"step", "1200"}});
    CHECK(snapshot(*fresh) == snapshot(*trained));
    // Copied in, not shared: the loaded module does not alias the file's tensors or the source.
    trained->named_parameters()[0].second.value().fill_(0.0);
    CHECK(snapshot(*fresh) != snapshot(*trained));
    // The names are PyTorch's, so torch's load_state_dict accepts the same file.
    const auto names = nn::load_safetensors(path).tensors;
    CHECK(names.count("0.weight") == 1);
    CHECK(names.count("2.bias") == 1);
  }
}

TEST_CASE("checkpoint: extra tensors such as optimiser state travel beside the parameters") {
  TempDir dir;
  const std::string path = dir.file("with_optim.safetensors");
  auto net = make_net(1);
  const Tensor exp_avg = full({4, 3}, 0.25);
  const Tensor step = scalar_tensor(17, kInt64);
  nn::save(*net, path, {}, {{"optim.0.exp_avg", exp_avg}, {"optim.step", step}});

  auto fresh = make_net(2);
  std::map<std::string, Tensor> extra = {{"stale", zeros({1})}};
  nn::load(*fresh, path, &extra);
  CHECK(snapshot(*fresh) == snapshot(*net));
  REQUIRE(extra.size() == 2);  // replaced, not merged
  testing::expect_values(extra.at("optim.0.exp_avg"), {4, 3}, std::vector<double>(12, 0.25));
  CHECK(extra.at("optim.step").dtype() == kInt64);
  CHECK(extra.at("optim.step").item() == 17);

  SUBCASE("without a place for them, extra tensors are an error") {
    auto other = make_net(3);
    const auto before = snapshot(*other);
    const std::string message = error_of([&] { nn::load(*other, path); });
    CHECK(contains(message, path));
    CHECK(contains(message, "unexpected parameter 'optim"));
    CHECK(snapshot(*other) == before);
  }
  SUBCASE("an extra tensor may not reuse a parameter's name") {
    const std::string message = error_of([&] { nn::save(*net, path, {}, {{"0.bias", step}}); });
    CHECK(contains(message, "extra tensor '0.bias' has the name of a parameter"));
  }
  SUBCASE("a failed load leaves the caller's extra map alone") {
    auto small = std::make_shared<nn::Linear>(3, 4);
    std::map<std::string, Tensor> kept = {{"stale", zeros({1})}};
    CHECK_FALSE(error_of([&] { nn::load(*small, path, &kept); }).empty());
    CHECK(kept.size() == 1);
    CHECK(kept.count("stale") == 1);
  }
}

// ---- the byte layout --------------------------------------------------------------------------

TEST_CASE("checkpoint: load_safetensors reads a file written byte by byte") {
  TempDir dir;
  const std::string path = dir.file("by_hand.safetensors");
  // 79 bytes of JSON and one space of padding: header length 80. Keys in any order, metadata
  // last, as other writers may produce.
  const std::string header =
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}} )";
  REQUIRE(header.size() == 80);
  const char length[8] = {80, 0, 0, 0, 0, 0, 0, 0};
  const char data[8] = {0x00, 0x00, static_cast<char>(0x80), 0x3f,                      // 1.0f
                        0x00, 0x00, static_cast<char>(0xc0), static_cast<char>(0xbf)};  // -1.5f
  write_bytes(path, std::string(length, 8) + header + std::string(data, 8));

  const auto file = nn::load_safetensors(path);
  CHECK(file.metadata == std::map<std::string, std::string>{{"k", "v"}});
  REQUIRE(file.tensors.size() == 1);
  CHECK(file.tensors.at("x").dtype() == kFloat32);
  CHECK(file.tensors.at("x").to_vector<float>() == std::vector<float>{1.0f, -1.5f});
}

TEST_CASE("checkpoint: save_safetensors writes the documented layout, byte for byte") {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  nn::save_safetensors(path,
                       {{"b", from_vector(std::vector<float>{1.0f, 2.0f}, {2})},
                        {"a", from_vector(std::vector<std::int64_t>{7}, {1})}},
                       {{"k", "v"}});
  const std::string bytes = read_bytes(path);
  // Compact JSON with sorted keys, tensors laid out in name order ("a" first), padded with
  // spaces to 136 = 17 * 8 bytes so the data starts on an 8-byte boundary.
  const std::string json =
      R"({"__metadata__":{"k":"v"},"a":{"data_offsets":[0,8],"dtype":"I64","shape":[1]},)"
      R"("b":{"data_offsets":[8,16],"dtype":"F32","shape":[2]}})";
  REQUIRE(json.size() == 133);
  const std::string expected =
      u64_le(136) + json + "   " + std::string("\x07\0\0\0\0\0\0\0", 8) + floats_le({1.0f, 2.0f});
  CHECK(bytes.size() == 8 + 136 + 16);
  CHECK(bytes == expected);
}

TEST_CASE("checkpoint: tensors laid out out of name order (as cho.py writes them) load") {
  TempDir dir;
  const std::string path = dir.file("unordered.safetensors");
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                      R"("__metadata__":{}})",
                                      floats_le({2.0f, 1.0f})));
  const auto file = nn::load_safetensors(path);
  CHECK(file.tensors.at("a").item() == 1.0);
  CHECK(file.tensors.at("b").item() == 2.0);
}

// ---- damaged files ----------------------------------------------------------------------------

TEST_CASE("checkpoint: a truncated file is refused at every cut point") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  nn::save(*make_net(1), good);
  const std::string bytes = read_bytes(good);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const std::size_t data_start = 8 + header_len;
  REQUIRE(bytes.size() == data_start + (12 + 4 + 8 + 2) * 4);

  const std::string cut = dir.file("cut.safetensors");
  struct Cut {
    std::size_t size;
    const char* problem;
  };
  const Cut cuts[] = {
      {0, "the file is empty"},
      {5, "only 5 bytes long, too short for the 8-byte header length"},
      {8, "runs past the end of the file (8 bytes)"},
      {8 + header_len / 2, "runs past the end of the file"},                 // inside the header
      {data_start - 1, "runs past the end of the file"},                     // last padding byte
      {data_start, "run past the end of the data section (0 bytes)"},        // header only
      {data_start + 10, "run past the end of the data section (10 bytes)"},  // inside a tensor
      {bytes.size() - 1, "the file is truncated or corrupt"},                // one byte short
  };
  for (const Cut& c : cuts) {
    CAPTURE(c.size);
    write_bytes(cut, bytes.substr(0, c.size));
    expect_load_fails(cut, c.problem);
  }
}

TEST_CASE("checkpoint: a bad header length is refused") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  nn::save(*make_net(1), good);
  const std::string bytes = read_bytes(good);
  const std::string bad = dir.file("bad_length.safetensors");

  SUBCASE("absurdly large (what a text file's first 8 bytes give)") {
    write_bytes(bad, "# not a checkpoint, just some text\n");
    expect_load_fails(bad, "is over the 100000000 byte limit");
  }
  SUBCASE("the largest possible value") {
    write_bytes(bad, u64_le(~std::uint64_t{0}) + bytes.substr(8));
    expect_load_fails(bad, "header length 18446744073709551615 is over the 100000000 byte limit");
  }
  SUBCASE("larger than the file") {
    write_bytes(bad, u64_le(bytes.size()) + bytes.substr(8));
    expect_load_fails(bad, fmt::format("header length {} runs past the end of the file ({} bytes)",
                                       bytes.size(), bytes.size()));
  }
  SUBCASE("shorter than the header: the JSON is cut") {
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    write_bytes(bad, u64_le(n - 16) + bytes.substr(8));
    expect_load_fails(bad, "the header is not valid JSON");
  }
  SUBCASE("zero") {
    write_bytes(bad, u64_le(0) + bytes.substr(8));
    expect_load_fails(bad, "the header is not valid JSON");
  }
}

TEST_CASE("checkpoint: a header that is not JSON is refused") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  nn::save(*make_net(1), good);
  std::string bytes = read_bytes(good);
  bytes[8] = 'x';  // "{" becomes "x"
  const std::string bad = dir.file("not_json.safetensors");
  write_bytes(bad, bytes);
  expect_load_fails(bad, "the header is not valid JSON (parse error at line 1, column 1");
}

TEST_CASE("checkpoint: a parameter with the wrong dtype, shape or name is refused") {
  TempDir dir;
  const std::string path = dir.file("mismatch.safetensors");
  std::map<std::string, Tensor> state = make_net(1)->state_dict();

  SUBCASE("wrong dtype") {
    state["0.weight"] = state["0.weight"].to(kFloat64);
    nn::save_safetensors(path, state);
    expect_load_fails(path,
                      "parameter '0.weight' has dtype float64 in the state, float32 in the "
                      "model");
  }
  SUBCASE("wrong shape") {
    state["2.weight"] = zeros({2, 5});
    nn::save_safetensors(path, state);
    expect_load_fails(path,
                      "parameter '2.weight' has shape [2, 5] in the state, [2, 4] in the "
                      "model");
  }
  SUBCASE("missing name") {
    state.erase("2.bias");
    nn::save_safetensors(path, state);
    expect_load_fails(path, "missing parameter '2.bias'");
  }
  SUBCASE("unexpected name") {
    state["3.weight"] = zeros({1});
    nn::save_safetensors(path, state);
    expect_load_fails(path, "unexpected parameter '3.weight'");
  }
}

TEST_CASE("checkpoint: offsets that run out of range, overlap or leave gaps are refused") {
  TempDir dir;
  const std::string path = dir.file("offsets.safetensors");
  const std::string data = floats_le({1, 2, 3, 4});  // 16 bytes
  auto entry = [](const char* name, int begin, int end) {
    return fmt::format(R"("{}":{{"dtype":"F32","shape":[{}],"data_offsets":[{},{}]}})", name,
                       (end - begin) / 4, begin, end);
  };
  struct Case {
    std::string header, data, problem;
  };
  // A JSON object of the given entries (fmt, not operator+: GCC 12 warns falsely on "{" + s).
  auto object = [](const std::vector<std::string>& entries) {
    return fmt::format("{{{}}}", fmt::join(entries, ","));
  };
  const Case cases[] = {
      {object({entry("a", 0, 8), entry("b", 8, 24)}), data,
       "tensor 'b': data_offsets [8, 24] run past the end of the data section (16 bytes)"},
      {object({entry("a", 0, 12), entry("b", 8, 16)}), data + data.substr(0, 4),
       "tensors 'a' [0, 12] and 'b' [8, 16] overlap"},
      {object({entry("a", 0, 8), entry("b", 0, 8)}), data.substr(0, 8),
       "tensors 'a' [0, 8] and 'b' [0, 8] overlap"},
      {object({entry("a", 0, 4), entry("b", 8, 16)}), data,
       "bytes [4, 8) of the data section belong to no tensor"},
      {object({entry("a", 0, 8)}), data,
       "8 trailing bytes after the last tensor (the tensors cover 8 of the 16 bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data,
       "tensor 'a': data_offsets [8, 0] end before they begin"},
      {R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data,
       "tensor 'a': data_offsets [0, 16] span 16 bytes, but F32 [3] needs 12"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,0]}})", data,
       "end before they begin"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    write_bytes(path, safetensors_bytes(c.header, c.data));
    expect_load_fails(path, c.problem);
  }
}

TEST_CASE("checkpoint: every malformed header entry is refused with a message saying what") {
  TempDir dir;
  const std::string path = dir.file("header.safetensors");
  const std::string data = floats_le({1, 2});  // 8 bytes
  struct Case {
    std::string header, problem;
  };
  const Case cases[] = {
      {R"([1, 2])", "the header is not a JSON object (it starts with an array)"},
      {R"("text")", "the header is not a JSON object (it starts with a string)"},
      {R"({"a": 3})", "the entry for tensor 'a' is a number, not an object"},
      {R"({"a":{"shape":[2],"data_offsets":[0,8]}})", "tensor 'a' has no \"dtype\""},
      {R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", "tensor 'a' has no \"shape\""},
      {R"({"a":{"dtype":"F32","shape":[2]}})", "tensor 'a' has no \"data_offsets\""},
      {R"({"a":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})",
       "tensor 'a': \"dtype\" is a number, not a string"},
      {R"({"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})",
       "tensor 'a': \"shape\" is a string, not an array of integers"},
      {R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})",
       "tensor 'a': \"shape\" holds a non-integer number, not only integers"},
      {R"({"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})",
       "tensor 'a': \"shape\" holds an array, not only integers"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":{"begin":0}}})",
       "tensor 'a': \"data_offsets\" is an object, not an array of two integers"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})",
       "tensor 'a': \"data_offsets\" has 1 entries instead of two"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})",
       "tensor 'a': \"data_offsets\" has more than two entries"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})",
       "tensor 'a': \"data_offsets\" holds a string, not only integers"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,8]}})",
       "tensor 'a' has a negative data offset -8"},
      {R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})",
       "tensor 'a' has dtype \"F16\", which seqgrad does not read (it reads F32, F64, I64 and "
       "BOOL)"},
      {R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
       "tensor 'a' has a negative dimension -2"},
      {R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})",
       "tensor 'a' has more than 8 dimensions"},
      {R"({"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]}})",
       "tensor 'a' has an impossibly large dimension 9223372036854775808"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
       "tensor 'a': shape [4294967296, 4294967296] is impossibly large"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})",
       "tensor 'a' has an unknown field \"extra\""},
      {R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       "tensor 'a' has \"dtype\" twice"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       "the header names 'a' twice"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"step":12}})",
       "metadata value 'step' is a number, not a string"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":["x"]})",
       "\"__metadata__\" is an array, not an object"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"1","k":"2"}})",
       "the metadata names 'k' twice"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} {})",
       "the header is not valid JSON"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", "the header is not valid JSON"},
      {"{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
       "the header is not valid JSON"},  // not UTF-8
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    write_bytes(path, safetensors_bytes(c.header, data));
    expect_load_fails(path, c.problem);
  }
}

TEST_CASE("checkpoint: a BOOL byte other than 0 or 1 is refused") {
  TempDir dir;
  const std::string path = dir.file("bool.safetensors");
  write_bytes(path, safetensors_bytes(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                                      std::string("\x01\x00\x02", 3)));
  expect_load_fails(path, "BOOL tensor 'm' holds the byte 2 at element 2");
}

TEST_CASE("checkpoint: a missing file or a directory is refused") {
  TempDir dir;
  const std::string nowhere = dir.file("nowhere.safetensors");
  expect_load_fails(nowhere, "cannot open '" + nowhere + "': No such file or directory");
  expect_load_fails(dir.path().string(), "it is a directory, not a checkpoint file");
}

TEST_CASE("checkpoint: a deeply nested or huge header cannot make the loader allocate") {
  TempDir dir;
  const std::string path = dir.file("hostile.safetensors");
  // 10 MB of '[' would make a json-tree parser build ten million nested arrays.
  write_bytes(path,
              safetensors_bytes(fmt::format(R"({{"a":{})", std::string(10'000'000, '[')), ""));
  expect_load_fails(path, "the entry for tensor 'a' is an array, not an object");
  // A shape claiming a terabyte with a data section of 8 bytes: refused before any allocation.
  write_bytes(path, safetensors_bytes(
                        R"({"a":{"dtype":"F64","shape":[131072,1048576],"data_offsets":[0,8]}})",
                        floats_le({1, 2})));
  expect_load_fails(path, "span 8 bytes, but F64 [131072, 1048576] needs 1099511627776");
}

// ---- atomic writes ----------------------------------------------------------------------------

TEST_CASE("checkpoint: a failed write leaves no temp file and the previous checkpoint intact") {
  TempDir dir;
  auto net = make_net(1);
  const std::string path = dir.file("ckpt.safetensors");
  nn::save(*net, path, {{"step", "1"}});
  const std::string previous = read_bytes(path);
  auto newer = make_net(2);

  SUBCASE("the directory does not exist") {
    const std::string missing = dir.file("no/such/dir/ckpt.safetensors");
    const std::string message = error_of([&] { nn::save(*newer, missing); });
    CHECK(contains(message, "save_safetensors: cannot write '" + missing + "'"));
    CHECK(contains(message, "No such file or directory"));
    CHECK_FALSE(fs::exists(missing + ".tmp"));
  }
  SUBCASE("the temp file cannot be created") {
    fs::create_directory(path + ".tmp");  // something in the way
    const std::string message = error_of([&] { nn::save(*newer, path, {{"step", "2"}}); });
    CHECK(contains(message, "cannot create '" + path + ".tmp'"));
    CHECK(contains(message, "Is a directory"));
    CHECK(read_bytes(path) == previous);
    CHECK(fs::is_directory(path + ".tmp"));  // not ours to delete
  }
  SUBCASE("the rename fails") {
    const std::string target = dir.file("a_directory");
    fs::create_directories(target + "/occupied");
    const std::string message = error_of([&] { nn::save(*newer, target); });
    CHECK(contains(message, "cannot write '" + target + "': renaming '" + target + ".tmp' failed"));
    CHECK_FALSE(fs::exists(target + ".tmp"));
    CHECK(fs::is_directory(target));
  }
  SUBCASE("the disk fills up mid-write") {
    // RLIMIT_FSIZE makes write() fail with EFBIG past 4 KB, as a full disk fails with ENOSPC.
    rlimit old_limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    rlimit small = old_limit;
    small.rlim_cur = 4096;
    if (old_limit.rlim_max != RLIM_INFINITY && old_limit.rlim_max < 4096) return;
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills the process
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string message = error_of([&] {
      nn::save_safetensors(path, {{"big", zeros({64, 1024})}});
    });
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    CHECK(contains(message, "cannot write '" + path + "': writing '" + path +
                                ".tmp' failed: "
                                "File too large"));
    CHECK_FALSE(fs::exists(path + ".tmp"));
    CHECK(read_bytes(path) == previous);
    CHECK(nn::load(*make_net(3), path) == std::map<std::string, std::string>{{"step", "1"}});
  }
  SUBCASE("bad arguments are reported before any file is touched") {
    CHECK(contains(error_of([&] {
                     nn::save_safetensors(path, {{"x", Tensor()}});
                   }),
                   "tensor 'x' is undefined"));
    CHECK(contains(error_of([&] {
                     nn::save_safetensors(path, {{"__metadata__", zeros({1})}});
                   }),
                   "'__metadata__' cannot be a tensor name"));
    CHECK(contains(error_of([&] {
                     nn::save_safetensors(path, {}, {{"k", "\xff"}});
                   }),
                   "not valid UTF-8"));
    CHECK(read_bytes(path) == previous);
    CHECK_FALSE(fs::exists(path + ".tmp"));
  }
  SUBCASE("a successful save replaces the file and leaves no temp file") {
    nn::save(*newer, path, {{"step", "2"}});
    CHECK_FALSE(fs::exists(path + ".tmp"));
    auto check_net = make_net(3);
    CHECK(nn::load(*check_net, path) == std::map<std::string, std::string>{{"step", "2"}});
    CHECK(snapshot(*check_net) == snapshot(*newer));
  }
}
