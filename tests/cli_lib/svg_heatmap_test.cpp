// The SVG heatmap (cli/svg_heatmap.h): the colour scale's ends and middle, labels made safe for
// XML (entities, invalid UTF-8 and control characters replaced), a well-formed document with
// exactly one cell per (row, column) pair, each in its place, and the errors for bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cli/svg_heatmap.h"
#include "cli_lib/svg_checks.h"
#include "tensor/error.h"

using namespace seqgrad;
using namespace seqgrad::plot;

namespace svg_heatmap_test {

std::string error_message(const Heatmap& h) {
  try {
    (void)heatmap_svg(h);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The value of attribute `name` in the element starting at `at`.
std::string attribute(const std::string& svg, std::size_t at, const std::string& name) {
  const std::size_t start = svg.find(" " + name + "=\"", at) + name.size() + 3;
  return svg.substr(start, svg.find('"', start) - start);
}

}  // namespace svg_heatmap_test

using namespace svg_heatmap_test;

TEST_CASE("heatmap: the colour scale runs from white to dark blue, clamped") {
  CHECK(heatmap_colour(0) == "#f7fbff");
  CHECK(heatmap_colour(1) == "#08306b");
  CHECK(heatmap_colour(0.5) == "#6baed6");  // the ramp's middle stop
  CHECK(heatmap_colour(-3) == heatmap_colour(0));
  CHECK(heatmap_colour(7) == heatmap_colour(1));
  CHECK(heatmap_colour(std::numeric_limits<double>::quiet_NaN()) == heatmap_colour(0));
  // Between two stops: between their channels.
  CHECK(heatmap_colour(1.0 / 16) == "#ebf3fb");
}

TEST_CASE("heatmap: labels are escaped and made valid UTF-8") {
  CHECK(xml_text("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(xml_text("caf\xC3\xA9 \xE2\x90\xA3") == "caf\xC3\xA9 \xE2\x90\xA3");  // kept as they are
  CHECK(xml_text("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");                  // 4 bytes
  const std::string replacement = "\xEF\xBF\xBD";
  CHECK(xml_text("a\xFFz") == "a" + replacement + "z");      // not UTF-8
  CHECK(xml_text("a\x01z") == "a" + replacement + "z");      // forbidden in XML 1.0
  CHECK(xml_text("\xC3") == replacement);                    // cut short
  CHECK(xml_text("\xC0\xAF") == replacement + replacement);  // overlong
  CHECK(xml_text("\xED\xA0\x80") == replacement + replacement + replacement);  // a surrogate
}

TEST_CASE("heatmap: one cell per (row, column), in place and coloured by its value") {
  Heatmap h{"Attention <weights> & more",
            "source tokens",
            "output tokens",
            {"a", "b", "<&>", "</s>"},
            {"x", "y", "</s>"},
            {0.7, 0.1, 0.1, 0.1, 0, 0, 1, 0, 0.25, 0.25, 0.25, 0.25}};
  const std::string svg = heatmap_svg(h);
  seqgrad::test::expect_well_formed(svg);
  CHECK(seqgrad::test::count(svg, "class=\"cell\"") == 12);
  CHECK(svg.find("<title>Attention &lt;weights&gt; &amp; more</title>") != std::string::npos);
  CHECK(svg.find(">source tokens</text>") != std::string::npos);
  CHECK(svg.find(">output tokens</text>") != std::string::npos);
  CHECK(svg.find(">&lt;&amp;&gt;</text>") != std::string::npos);  // a column label
  CHECK(seqgrad::test::count(svg, ">&lt;/s&gt;</text>") == 2);    // a column and a row label
  // Cells in row-major order: each one step right of the last, a row one step down.
  std::vector<double> xs, ys;
  std::vector<std::string> fills;
  for (std::size_t at = svg.find("<rect class=\"cell\""); at != std::string::npos;
       at = svg.find("<rect class=\"cell\"", at + 1)) {
    xs.push_back(std::stod(attribute(svg, at, "x")));
    ys.push_back(std::stod(attribute(svg, at, "y")));
    fills.push_back(attribute(svg, at, "fill"));
  }
  REQUIRE(xs.size() == 12);
  const double cell = xs[1] - xs[0];
  CHECK(cell > 0);
  for (std::size_t i = 0; i < 12; ++i) {
    CAPTURE(i);
    CHECK(xs[i] == doctest::Approx(xs[0] + cell * static_cast<double>(i % 4)).epsilon(1e-3));
    CHECK(ys[i] == doctest::Approx(ys[0] + cell * static_cast<double>(i / 4)).epsilon(1e-3));
    CHECK(fills[i] == heatmap_colour(h.values[i]));
  }
  CHECK(svg.find("<title>y / &lt;&amp;&gt;: 1.000</title>") != std::string::npos);  // tooltip
  CHECK(svg.find("url(#heatmap-scale)") != std::string::npos);  // the colour scale
}

TEST_CASE("heatmap: long column labels are turned upright, short ones are not") {
  Heatmap h{"t", "x", "y", {"a", "b"}, {"c"}, {0.5, 0.5}};
  CHECK(heatmap_svg(h).find("rotate(-90") == heatmap_svg(h).rfind("rotate(-90"));  // y axis only
  h.columns = {"a long token", "b"};
  CHECK(seqgrad::test::count(heatmap_svg(h), "rotate(-90") == 3);  // the y axis and both columns
  // A long sequence still gives a picture of bounded size.
  h.columns.assign(300, "a");
  h.rows = {"r"};
  h.values.assign(300, 1.0 / 300);
  const std::string svg = heatmap_svg(h);
  seqgrad::test::expect_well_formed(svg);
  CHECK(seqgrad::test::count(svg, "class=\"cell\"") == 300);
  CHECK(std::stod(attribute(svg, svg.find("<svg "), "width")) < 2600);
}

TEST_CASE("heatmap: bad input is refused, naming the heatmap") {
  CHECK(error_message({"map", "x", "y", {}, {"r"}, {}})
            .find("heatmap 'map': needs rows and columns, got 1 x 0") != std::string::npos);
  CHECK(error_message({"map", "x", "y", {"a", "b"}, {"r"}, {1}})
            .find("heatmap 'map': 1 values for 1 rows x 2 columns") != std::string::npos);
  CHECK(error_message(
            {"map", "x", "y", {"a", "b"}, {"r"}, {0.5, std::numeric_limits<double>::infinity()}})
            .find("heatmap 'map': value 1 (row 0, column 1) is inf") != std::string::npos);
}
