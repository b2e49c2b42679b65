// The SVG line charts (models/svg_plot.h): 1-2-5 ticks worked out by hand, tick labels, XML
// escaping, documents with balanced tags, the metrics.csv parser's errors (naming the file and
// the line), and non-finite points being left out.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cli/svg_plot.h"
#include "cli_lib/svg_checks.h"
#include "tensor/error.h"

using namespace seqgrad;
using namespace seqgrad::plot;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

void expect_ticks(const Ticks& t, double step, const std::vector<double>& values) {
  CHECK(t.step == doctest::Approx(step));
  REQUIRE(t.values.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    CHECK_MESSAGE(t.values[i] == doctest::Approx(values[i]), "tick ", i);
}

using seqgrad::test::count;
using seqgrad::test::expect_well_formed;

// The error message thrown by f, or "" when it does not throw.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::string kHeader =
    "step,train_seconds,train_loss,train_tokens_per_s,dev_loss,dev_sequence_accuracy\n";

}  // namespace

TEST_CASE("nice_ticks steps of 1, 2 and 5 worked out by hand") {
  // [0, 1] max 6: 0.1 gives 10 intervals, 0.2 gives 5.
  expect_ticks(nice_ticks(0, 1), 0.2, {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  // [0, 100] max 6: 10 -> 10 intervals, 20 -> 5.
  expect_ticks(nice_ticks(0, 100), 20, {0, 20, 40, 60, 80, 100});
  // [50, 300] max 8: 20 -> 40..300 is 13 intervals, 50 -> 5.
  expect_ticks(nice_ticks(50, 300, 8), 50, {50, 100, 150, 200, 250, 300});
  // [0.5, 3.2] max 6: 0.5 -> 0.5..3.5 is 6 intervals. With max 4: 0.5 is too small, 1 -> 0..4.
  expect_ticks(nice_ticks(0.5, 3.2), 0.5, {0.5, 1, 1.5, 2, 2.5, 3, 3.5});
  expect_ticks(nice_ticks(0.5, 3.2, 4), 1, {0, 1, 2, 3, 4});
  // Negative to positive: [-7, 12] max 6: 2 -> -8..12 is 10, 5 -> -10..15 is 5.
  expect_ticks(nice_ticks(-7, 12), 5, {-10, -5, 0, 5, 10, 15});
  // Small values: [0.013, 0.047] max 6: 0.005 -> 0.01..0.05 is 8, 0.01 -> 0.01..0.05 is 4.
  expect_ticks(nice_ticks(0.013, 0.047), 0.01, {0.01, 0.02, 0.03, 0.04, 0.05});
  // Large values: [1200, 9800] max 6: 1000 -> 1000..10000 is 9, 2000 -> 0..10000 is 5.
  expect_ticks(nice_ticks(1200, 9800), 2000, {0, 2000, 4000, 6000, 8000, 10000});
  CHECK_THROWS_AS(nice_ticks(1, 1), Error);
  CHECK_THROWS_AS(nice_ticks(0, kNaN), Error);
  CHECK_THROWS_AS(nice_ticks(0, 1, 1), Error);
}

TEST_CASE("format_tick uses the decimals of the step") {
  CHECK(format_tick(0.4, 0.2) == "0.4");
  CHECK(format_tick(0, 0.2) == "0.0");
  CHECK(format_tick(1, 0.5) == "1.0");
  CHECK(format_tick(0.05, 0.01) == "0.05");
  CHECK(format_tick(300, 50) == "300");
  CHECK(format_tick(-1e-17, 0.1) == "0.0");  // no "-0.0" from rounding noise
  CHECK(format_tick(0.1 + 0.2, 0.1) == "0.3");
}

TEST_CASE("xml_escape replaces the five special characters") {
  CHECK(xml_escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  CHECK(xml_escape("plain") == "plain");
}

TEST_CASE("line_chart_svg writes a well-formed document with every label escaped") {
  const std::vector<Series> series = {{"loss <train>", {1, 2, 3, 4}, {3.0, 2.0, 1.5, 1.2}},
                                      {"dev & co", {1, 2, 3, 4}, {3.2, 2.4, 2.0, 1.9}, true},
                                      {"third", {1, 4}, {0.5, 0.7}}};
  const std::string svg = line_chart_svg("Loss <&> curves", "step", "loss", series, true);
  expect_well_formed(svg);
  CHECK(svg.find("Loss &lt;&amp;&gt; curves") != std::string::npos);
  CHECK(svg.find("loss &lt;train&gt;") != std::string::npos);
  CHECK(svg.find("dev &amp; co") != std::string::npos);
  CHECK(svg.find(">third<") != std::string::npos);
  CHECK(svg.find("Loss <&>") == std::string::npos);
  CHECK(count(svg, "<polyline") == 3);
  CHECK(count(svg, "stroke-dasharray") == 2);  // the dashed series and its legend sample
  // Three distinct colours, each used by a line.
  CHECK(svg.find("stroke=\"#1f77b4\"") != std::string::npos);
  CHECK(svg.find("stroke=\"#ff7f0e\"") != std::string::npos);
  CHECK(svg.find("stroke=\"#2ca02c\"") != std::string::npos);
  // y from zero: [0, 3.2] in steps of 0.5 would take 7 intervals, so the ticks are 0, 1, .., 4.
  CHECK(svg.find(">0<") != std::string::npos);
  CHECK(svg.find(">4<") != std::string::npos);
}

TEST_CASE("line_chart_svg handles one point, equal values and non-finite points") {
  SUBCASE("one point") {
    const std::string svg = line_chart_svg("one", "x", "y", {{"p", {50}, {0.25}}}, false);
    expect_well_formed(svg);
    CHECK(count(svg, "<polyline") == 0);
    CHECK(count(svg, "<circle") == 1);
  }
  SUBCASE("all values equal, zero included") {
    const std::string svg =
        line_chart_svg("flat", "x", "y", {{"zero", {1, 2, 3}, {0, 0, 0}}}, true);
    expect_well_formed(svg);
    CHECK(count(svg, "<polyline") == 1);
    CHECK(svg.find(">-1") == std::string::npos);  // from zero: the axis is 0..1, not -1..1
  }
  SUBCASE("NaN and infinite points are left out") {
    const std::vector<Series> series = {
        {"gappy", {1, 2, 3, 4, 5}, {1.0, kNaN, 2.0, kInf, 3.0}},
        {"all missing", {1, 2}, {kNaN, kNaN}},
    };
    const std::string svg = line_chart_svg("gaps", "x", "y", series, false);
    expect_well_formed(svg);
    CHECK(count(svg, "<polyline") == 1);
    CHECK(count(svg, "<circle") == 3);
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);
    CHECK(svg.find("all missing") != std::string::npos);  // still in the legend
  }
}

TEST_CASE("line_chart_svg rejects charts with nothing to draw") {
  CHECK(error_of([] { line_chart_svg("t", "x", "y", {}, false); }).find("no series") !=
        std::string::npos);
  CHECK(error_of([] {
          line_chart_svg("t", "x", "y", {{"empty", {}, {}}}, false);
        }).find("series 'empty' has no points") != std::string::npos);
  CHECK(error_of([] {
          line_chart_svg("t", "x", "y", {{"bad", {1, 2}, {1}}}, false);
        }).find("2 x values but 1 y values") != std::string::npos);
  CHECK(error_of([] {
          line_chart_svg("t", "x", "y", {{"nan", {1}, {kNaN}}}, false);
        }).find("no point has finite coordinates") != std::string::npos);
}

TEST_CASE("parse_metrics_csv reads columns by name") {
  const TrainingMetrics m = parse_metrics_csv(
      "dev_sequence_accuracy,extra,step,dev_loss,train_loss\r\n"
      "0.25,x,50,1.5,2.0\r\n"
      "\n"
      "0.5,y,100,,1.0\r\n",
      "m.csv");
  CHECK(m.step == std::vector<double>{50, 100});
  CHECK(m.train_loss == std::vector<double>{2.0, 1.0});
  CHECK(m.dev_sequence_accuracy == std::vector<double>{0.25, 0.5});
  REQUIRE(m.dev_loss.size() == 2);
  CHECK(m.dev_loss[0] == 1.5);
  CHECK(std::isnan(m.dev_loss[1]));  // an empty field is a missing value
}

TEST_CASE("parse_metrics_csv errors name the file and the line") {
  const std::string good = "50,1.0,2.5,1000,2.6,0.1\n";
  CHECK(error_of([&] { parse_metrics_csv(kHeader + good + "100,2.0,2.1\n", "run/metrics.csv"); }) ==
        "run/metrics.csv: line 3: 3 fields, but the header has 6");
  CHECK(error_of([&] {
          parse_metrics_csv(kHeader + good + good + "150,3.0,abc,1000,2.0,0.2\n", "r.csv");
        }) == "r.csv: line 4: column 'train_loss': 'abc' is not a number");
  CHECK(error_of([&] { parse_metrics_csv(kHeader + "1.5x,1,1,1,1,1\n", "r.csv"); }) ==
        "r.csv: line 2: column 'step': '1.5x' is not a number");
  CHECK(error_of([] {
          parse_metrics_csv("step,train_loss,dev_sequence_accuracy\n1,2,3\n", "r.csv");
        }).starts_with("r.csv: line 1: no column 'dev_loss'"));
  CHECK(error_of([] { parse_metrics_csv("", "r.csv"); }).starts_with("r.csv: line 1: no header"));
  CHECK(error_of([&] { parse_metrics_csv(kHeader, "r.csv"); }).starts_with("r.csv: no data rows"));
}

TEST_CASE("training_curves_svg draws losses and accuracy, and overlays several runs") {
  const std::string csv = kHeader +
                          "50,1.0,2.5,1000,2.6,0.0\n"
                          "100,2.0,1.5,1000,1.7,0.125\n"
                          "150,3.0,nan,1000,1.1,0.5\n";
  const std::string one = training_curves_svg(csv, "runs/a & b");
  expect_well_formed(one);
  CHECK(one.find("runs/a &amp; b") != std::string::npos);
  CHECK(one.find(">train loss<") != std::string::npos);
  CHECK(one.find(">dev loss<") != std::string::npos);
  CHECK(one.find("dev sequence accuracy (best 50.0% at step 150)") != std::string::npos);
  CHECK(one.find(">100<") != std::string::npos);  // the accuracy axis goes up to 100 %
  CHECK(count(one, "<polyline") == 3);

  const TrainingMetrics m = parse_metrics_csv(csv, "a.csv");
  const std::string two = training_curves_svg({{"small", m}, {"big", m}}, "two runs");
  expect_well_formed(two);
  for (const char* label : {">small train<", ">small dev<", ">big train<", ">big dev<",
                            ">small (best 50.0%)<", ">big (best 50.0%)<"})
    CHECK_MESSAGE(two.find(label) != std::string::npos, label);
  CHECK(count(two, "<polyline") == 6);

  CHECK(error_of([&] {
          training_curves_svg(kHeader + "1,2\n", "x/metrics.csv");
        }).starts_with("x/metrics.csv: line 2:"));
}

TEST_CASE("svg plot: csv_columns reads named columns and skips eval's JSON summary line") {
  const std::string text =
      "source_length,sequences,sequence_accuracy\n5,40,0.9750\n6,38,\n"
      "{\"loss\": 0.1, \"tokens\": 9}\n";
  const auto c = plot::csv_columns(text, "by_length.csv", {"sequence_accuracy", "source_length"});
  REQUIRE(c.size() == 2);
  REQUIRE(c[0].size() == 2);
  CHECK(c[0][0] == 0.975);
  CHECK(std::isnan(c[0][1]));  // empty field: a missing value
  CHECK(c[1] == std::vector<double>{5, 6});
  CHECK_THROWS_WITH_AS(plot::csv_columns(text, "by_length.csv", {"wer"}),
                       doctest::Contains("by_length.csv: line 1: no column 'wer'"), Error);
  CHECK_THROWS_WITH_AS(plot::csv_columns("source_length\n5\nfive\n", "f.csv", {"source_length"}),
                       doctest::Contains("f.csv: line 3: column 'source_length': 'five'"), Error);
}
