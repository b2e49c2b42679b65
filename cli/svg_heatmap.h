// A heatmap as SVG text, written directly like the line charts of cli/svg_plot.h: a grid of
// cells coloured by value on a fixed 0..1 scale, with a label for every column (across the top)
// and every row (down the left), the axes named, and the colour scale beside it. `seqgrad
// translate --show-attention` draws attention weights with it: source tokens across, output
// tokens down, so row t is where the model looked while writing output token t.
//
// The document is self-contained (no scripts, no external files); each cell is a <rect
// class="cell"> whose <title> (a tooltip in browsers) gives its row, column and value.
#pragma once

#include <string>
#include <vector>

namespace seqgrad::plot {

struct Heatmap {
  std::string title;
  std::string x_label, y_label;            // the names of the columns' and the rows' axis
  std::vector<std::string> columns, rows;  // one label per column and per row (any UTF-8)
  std::vector<double> values;              // rows x columns, row-major
};

// The colour of value v on the scale: white at 0, dark blue at 1 (clamped), "#rrggbb".
std::string heatmap_colour(double v);

// Text safe in an XML document: xml_escape's entities, and a U+FFFD in place of each byte that
// is not valid UTF-8 and of each control character XML 1.0 forbids (a label is user input).
std::string xml_text(const std::string& text);

// The complete SVG document. Throws Error naming the title for no rows or no columns, a value
// count other than rows x columns, or a value that is not finite.
std::string heatmap_svg(const Heatmap& heatmap);

}  // namespace seqgrad::plot
