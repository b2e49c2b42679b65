// Corpus BLEU and chrF (data/text_metrics.h) against sacreBLEU 2.x: every case of
// tests/fixtures/bleu/cases.json (written by tools/make_bleu_fixture.py, a transcription of
// sacreBLEU's code checked against its test suite), cases copied from sacreBLEU's own tests
// (test/test_bleu.py, test/test_chrf.py), small cases computed by hand, the 13a tokenizer on
// its regexes, and the errors.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/seq2seq_batch.h"
#include "data/text_metrics.h"

using namespace seqgrad::data;

namespace text_metrics_test {

using Strings = std::vector<std::string>;

// 1e-9 relative, or 1e-12 absolute near 0 (a score of 0 is exactly 0 on both sides).
void expect_close(double actual, double expected, const char* what) {
  INFO(what, ": ", actual, " vs ", expected);
  CHECK(std::abs(actual - expected) <= std::max(1e-12, 1e-9 * std::abs(expected)));
}

const nlohmann::json& fixture() {
  static const nlohmann::json f = [] {
    std::ifstream in("fixtures/bleu/cases.json");  // ctest runs the tests in tests/
    REQUIRE_MESSAGE(in.good(), "cannot open fixtures/bleu/cases.json (run the tests from tests/)");
    return nlohmann::json::parse(in);
  }();
  return f;
}

std::string invalid_argument_message(auto&& call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no std::invalid_argument thrown)";
}

}  // namespace text_metrics_test

using namespace text_metrics_test;

TEST_CASE("text metrics: every fixture case equals sacreBLEU's numbers") {
  const auto& cases = fixture()["cases"];
  REQUIRE(cases.size() >= 15);
  for (const auto& c : cases) {
    INFO("case: ", c["name"].get<std::string>());
    const auto hyps = c["hypotheses"].get<Strings>(), refs = c["references"].get<Strings>();
    const BleuScore b = corpus_bleu(hyps, refs);
    const auto& eb = c["bleu"];
    expect_close(b.score, eb["score"].get<double>(), "BLEU");
    expect_close(b.bp, eb["bp"].get<double>(), "brevity penalty");
    CHECK(b.sys_len == eb["sys_len"].get<std::int64_t>());
    CHECK(b.ref_len == eb["ref_len"].get<std::int64_t>());
    CHECK(b.counts == eb["counts"].get<std::vector<std::int64_t>>());
    CHECK(b.totals == eb["totals"].get<std::vector<std::int64_t>>());
    const auto precisions = eb["precisions"].get<std::vector<double>>();
    REQUIRE(b.precisions.size() == precisions.size());
    for (std::size_t n = 0; n < precisions.size(); ++n)
      expect_close(b.precisions[n], precisions[n], "precision");
    const ChrfScore f = corpus_chrf(hyps, refs);
    expect_close(f.score, c["chrf"]["score"].get<double>(), "chrF");
    CHECK(f.statistics == c["chrf"]["stats"].get<std::vector<std::int64_t>>());
  }
}

TEST_CASE("text metrics: an empty reference is scored as one of whitespace only") {
  // sacreBLEU refuses the empty string as a reference but accepts " ", which has no tokens and no
  // characters; the fixture has the " " case, and "" must give the same numbers.
  const Strings hyps = {"some output", "the cat sat on the mat"};
  const BleuScore blank = corpus_bleu(hyps, {" ", "the cat sat on the mat"});
  const BleuScore empty = corpus_bleu(hyps, {"", "the cat sat on the mat"});
  CHECK(empty.score == blank.score);
  CHECK(empty.ref_len == blank.ref_len);
  CHECK(empty.counts == blank.counts);
  CHECK(corpus_chrf(hyps, {"", "the cat sat on the mat"}).statistics ==
        corpus_chrf(hyps, {" ", "the cat sat on the mat"}).statistics);
  // Nothing to score at all: 0, not NaN.
  CHECK(corpus_bleu({""}, {""}).score == 0.0);
  CHECK(corpus_chrf({""}, {""}).score == 0.0);
  CHECK(corpus_bleu({}, {}).score == 0.0);
  CHECK(corpus_chrf({}, {}).score == 0.0);
}

TEST_CASE("text metrics: sacreBLEU's test_bleu.py cases") {
  // The README example: two references per hypothesis (test_bleu.py, _hyps and _refs).
  const Strings hyps = {"The dog bit the man.", "It wasn't surprising.",
                        "The man had just bitten him."};
  const std::vector<Strings> refs = {
      {"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
      {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."}};
  // test_corpus_bleu (EPSILON 1e-8): default settings, tokenize 'none', smooth_method 'none',
  // and empty hypotheses, which are scored, not removed.
  CHECK(std::abs(corpus_bleu_multi(hyps, refs).score - 48.530827) < 1e-8);
  CHECK(std::abs(corpus_bleu_multi(hyps, refs, {.tokenize = BleuTokenizer::None}).score -
                 49.1919566) < 1e-8);
  CHECK(std::abs(corpus_bleu_multi(hyps, refs, {.smooth = BleuSmooth::None}).score - 48.530827) <
        1e-8);
  CHECK(corpus_bleu_multi({"", "", ""}, refs).score == 0.0);
  // test_max_ngram_order: the score printed with 2 decimals for max orders 1 to 6.
  const std::vector<std::string> by_order = {"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"};
  for (int order = 1; order <= 6; ++order)
    CHECK(fmt::format("{:.2f}", corpus_bleu_multi(hyps, refs, {.max_ngram_order = order}).score) ==
          by_order[static_cast<std::size_t>(order - 1)]);

  // raw_corpus_bleu (sacrebleu/compat.py): no tokenizer, floor smoothing, effective order.
  const auto raw = [](const Strings& h, const Strings& r, double floor = 0.01) {
    return corpus_bleu(h, r,
                       {.tokenize = BleuTokenizer::None,
                        .smooth = BleuSmooth::Floor,
                        .smooth_value = floor,
                        .effective_order = true});
  };
  // test_raw_bleu and test_effective_order (score / 100, EPSILON 1e-8).
  CHECK(raw({"this is a test", "another test"}, {"ref1", "ref2"}).score == 0.0);
  CHECK(std::abs(raw({"this is a test"}, {"this is a test"}).score / 100 - 1.0) < 1e-8);
  CHECK(std::abs(raw({"this is a fest"}, {"this is a test"}).score / 100 - 0.223606797749979) <
        1e-8);
  CHECK(std::abs(raw({"test"}, {"a test"}).score / 100 - 0.3678794411714425) < 1e-8);
  CHECK(std::abs(raw({"a test"}, {"a test"}).score / 100 - 1.0) < 1e-8);
  CHECK(std::abs(raw({"a little test"}, {"a test"}).score / 100 - 0.03218297948685433) < 1e-8);
  // test_statistics and test_offset (floor 0 and floor 0.1, sacreBLEU's default for floor).
  const Strings h = {"am I am a character sequence"}, r = {"I am a symbol string sequence a a"};
  CHECK(raw(h, r).counts == std::vector<std::int64_t>{4, 2, 1, 0});
  CHECK(raw(h, r).totals == std::vector<std::int64_t>{6, 5, 4, 3});
  CHECK(raw(h, r, 0.0).score == 0.0);
  CHECK(std::abs(raw(h, r, -1).score / 100 - 0.1555722182) < 1e-8);
  // test_scoring: compute_bleu's own default is smooth_method 'none'.
  CHECK(std::abs(
            bleu_from_statistics({9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11, {.smooth = BleuSmooth::None})
                    .score /
                100 -
            0.8375922397) < 1e-8);
  // test_degenerate_statistics: floor smoothing, exactly 0.
  struct Degenerate {
    std::vector<std::int64_t> counts, totals;
    std::int64_t sys_len, ref_len;
    double floor;
  };
  for (const Degenerate& d : std::vector<Degenerate>{{{0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1, 0.0},
                                                     {{0, 0, 0, 0}, {10, 11, 12, 0}, 14, 10, 0.0},
                                                     {{0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, 0.0},
                                                     {{6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6, 0.0},
                                                     {{0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, 0.1},
                                                     {{0, 0, 0, 0}, {0, 0, 0, 0}, 1, 5, 0.01}})
    CHECK(bleu_from_statistics(d.counts, d.totals, d.sys_len, d.ref_len,
                               {.smooth = BleuSmooth::Floor, .smooth_value = d.floor})
              .score == 0.0);
}

TEST_CASE("text metrics: sacreBLEU's test_chrf.py cases") {
  struct Case {
    Strings hyps, refs;
    double expected;
  };
  const auto check_all = [](const std::vector<Case>& cases, const ChrfOptions& o) {
    for (const Case& c : cases) {
      INFO(c.hyps[0], " | ", c.refs[0]);
      CHECK(std::abs(corpus_chrf(c.hyps, c.refs, o).score - c.expected) < 1e-4);  // EPSILON
    }
  };
  // test_chrf: beta 3 with eps smoothing.
  check_all({{{"abcdefg"}, {"hijklmnop"}, 0.0},
             {{"a"}, {"b"}, 0.0},
             {{""}, {"b"}, 0.0},
             {{""}, {"ref"}, 0.0},
             {{""}, {"reference"}, 0.0},
             {{"aa"}, {"ab"}, 8.3333},
             {{"a", "b"}, {"a", "c"}, 8.3333},
             {{"a"}, {"a"}, 16.6667},
             {{"a b c"}, {"a b c"}, 50.0},
             {{"a b c"}, {"abc"}, 50.0},
             {{" risk assessment must be made of those who are qualified and expertise in the "
               "sector - these are the scientists ."},
              {"risk assessment has to be undertaken by those who are qualified and expert in "
               "that area - that is the scientists ."},
              63.361730},
             {{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
              {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."},
              64.1302698},
             {{"Niemand hat die Absicht, eine Mauer zu errichten"},
              {"Niemand hat die Absicht, eine Mauer zu errichten"},
              100.0}},
            {.beta = 3, .eps_smoothing = true});
  // test_chrf_eff_order: beta 3, sacreBLEU's default averaging over the orders present.
  check_all({{{"a"}, {"a"}, 100.0},
             {{""}, {"reference"}, 0.0},
             {{"a b c"}, {"a b c"}, 100.0},
             {{"a b c"}, {"abc"}, 100.0},
             {{""}, {"c"}, 0.0},
             {{"a", "b"}, {"a", "c"}, 50.0},
             {{"aa"}, {"ab"}, 25.0}},
            {.beta = 3});
  // test_chrf_keep_whitespace: beta 3, whitespace kept.
  check_all(
      {{{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
        {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."},
        67.3481606},
       {{"risk assessment must be made of those who are qualified and expertise in the sector - "
         "these are the scientists ."},
        {"risk assessment has to be undertaken by those who are qualified and expert in that "
         "area - that is the scientists ."},
        65.2414427}},
      {.beta = 3, .whitespace = true});
  // test_chrf_sentence_level: beta 2 with eps smoothing, one sentence.
  check_all({{{"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře."},
              {"Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře."},
              39.14078509},
             {{"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři."},
              {"A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři."},
              31.22557079},
             {{"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly."},
              {"Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, "
               "připomněli."},
              57.15704367}},
            {.eps_smoothing = true});
}

TEST_CASE("text metrics: BLEU and chrF by hand") {
  // "a b c d e" against "a b c d f": 1-grams a b c d match, e does not: 4/5; 2-grams ab bc cd
  // match, de does not: 3/4; 3-grams abc bcd of abc bcd cde: 2/3; 4-grams abcd of abcd bcde: 1/2.
  // Same lengths, so BP = 1 and BLEU = (4/5 * 3/4 * 2/3 * 1/2)^(1/4) = 0.2^(1/4) = 0.66874...
  BleuScore b = corpus_bleu({"a b c d e"}, {"a b c d f"});
  CHECK(b.counts == std::vector<std::int64_t>{4, 3, 2, 1});
  CHECK(b.totals == std::vector<std::int64_t>{5, 4, 3, 2});
  CHECK(b.bp == 1.0);
  CHECK(b.score == doctest::Approx(100 * std::pow(0.2, 0.25)).epsilon(1e-13));
  // "a b c x e" against "a b c d e": 4/5, 2/4 (ab bc), 1/3 (abc), 0/2. Exp smoothing gives the
  // first order with no match 1 / (2 * total) = 1/4 instead of 0, so
  // BLEU = (4/5 * 2/4 * 1/3 * 1/4)^(1/4) = (1/30)^(1/4) = 0.42729...
  b = corpus_bleu({"a b c x e"}, {"a b c d e"});
  CHECK(b.precisions[3] == 25.0);
  CHECK(b.score == doctest::Approx(100 * std::pow(1.0 / 30, 0.25)).epsilon(1e-13));
  // "a b" against "a b c d": 2 tokens for 4, BP = exp(1 - 4/2) = e^-1; no 3-gram at all, so the
  // third precision is 0 and corpus BLEU (no effective order) is 0 whatever the matches.
  b = corpus_bleu({"a b"}, {"a b c d"});
  CHECK(b.bp == doctest::Approx(std::exp(-1.0)).epsilon(1e-15));
  CHECK(b.score == 0.0);
  // chrF of "ab" against "abc": 1-grams a b of a b c: P = 2/2, R = 2/3; 2-grams ab of ab bc:
  // P = 1/1, R = 1/2; the hypothesis has no 3-gram and the reference no 4-gram or longer, so
  // those orders are left out: P = 1, R = (2/3 + 1/2) / 2 = 7/12, and with beta = 2
  // F = (1 + 4) P R / (4 P + R) = (35/12) / (55/12) = 7/11.
  const ChrfScore f = corpus_chrf({"ab"}, {"abc"});
  CHECK(f.statistics ==
        std::vector<std::int64_t>{2, 3, 2, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(f.score == doctest::Approx(700.0 / 11).epsilon(1e-13));
  // Characters are code points: "é" is one character (two bytes), so "éa" against "éa" has
  // 1-grams é a and one 2-gram, all matching: 100.
  CHECK(corpus_chrf({"éa"}, {"éa"}).statistics ==
        std::vector<std::int64_t>{2, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("text metrics: the 13a tokenizer") {
  using V = std::vector<std::string>;
  // Symbols are split off; a period or comma only when not between digits; a dash only after a
  // digit; apostrophes and other hyphens stay.
  CHECK(tokenize_13a("Hello, world! (well-known) it's") ==
        V{"Hello", ",", "world", "!", "(", "well-known", ")", "it's"});
  CHECK(tokenize_13a("The U.S. economy grew 3.5% in 2021, analysts said.") ==
        V{"The", "U", ".", "S", ".", "economy", "grew", "3.5", "%", "in", "2021", ",", "analysts",
          "said", "."});
  CHECK(tokenize_13a("1,000.5 2-3 x-4 e.g.") ==
        V{"1,000.5", "2", "-", "3", "x-4", "e", ".", "g", "."});
  // HTML entities, <skipped>, line breaks (a hyphen at one joins the word), Unicode whitespace.
  CHECK(tokenize_13a("&quot;a&quot; &amp;lt; <skipped>b") == V{"\"", "a", "\"", "<", "b"});
  CHECK(tokenize_13a("hyph-\nen\nx") == V{"hyphen", "x"});
  CHECK(tokenize_13a("a\u00a0b\u3000c\u200bd") == V{"a", "b", "c\u200bd"});
  CHECK(tokenize_13a("  \t").empty());
}

TEST_CASE("text metrics: detokenize writes what translate prints") {
  CHECK(detokenize({"2", "0", "2", "1", "-", "0", "3"}, Tokens::Char) == "2021-03");
  CHECK(detokenize({"HH", "AH", "L", "OW"}, Tokens::Space) == "HH AH L OW");
  CHECK(detokenize({}, Tokens::Space).empty());
  // The inverse of tokenize, but for runs of spaces (Space) which become one.
  CHECK(detokenize(tokenize("naïve café", Tokens::Char), Tokens::Char) == "naïve café");
  CHECK(detokenize(tokenize(" a  b ", Tokens::Space), Tokens::Space) == "a b");
}

TEST_CASE("text metrics: errors name the operation and the values") {
  std::string m = invalid_argument_message([] { corpus_bleu({"a", "b", "c"}, {"a", "b"}); });
  CHECK(m.find("corpus_bleu") != std::string::npos);
  CHECK(m.find("3 hypotheses but 2 references") != std::string::npos);
  m = invalid_argument_message([] { corpus_chrf({"a"}, {"a", "b"}); });
  CHECK(m.find("corpus_chrf: 1 hypotheses but 2 references") != std::string::npos);
  m = invalid_argument_message([] { corpus_bleu_multi({"a", "b"}, {{"a", "b"}, {"a"}}); });
  CHECK(m.find("corpus_bleu: 2 hypotheses but reference stream 1 has 1 references") !=
        std::string::npos);
  m = invalid_argument_message([] { corpus_chrf({"ok", "b\xff"}, {"a", "b"}); });
  CHECK(m.find("corpus_chrf: hypothesis 1 is not valid UTF-8 (byte 0xff at offset 1)") !=
        std::string::npos);
  m = invalid_argument_message([] { corpus_bleu({"a"}, {"\xc3"}); });
  CHECK(m.find("corpus_bleu: reference 0 is not valid UTF-8") != std::string::npos);
  m = invalid_argument_message([] { bleu_from_statistics({1, 1}, {1, 1, 1, 1}, 1, 1); });
  CHECK(m.find("bleu_from_statistics: 2 counts and 4 totals for max_ngram_order 4") !=
        std::string::npos);
  m = invalid_argument_message([] { corpus_chrf({"a"}, {"a"}, {.char_order = 0}); });
  CHECK(m.find("corpus_chrf: char_order 0 must be at least 1") != std::string::npos);
}
