// Checks the SVG writers' tests share: a well-formed document, and counting substrings.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace seqgrad::test {

inline std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

// Checks that every element is closed in order (<a><b/></a>), skipping <?...?> and that no text
// or attribute holds a raw '<' or a '&' that does not start an entity.
inline void expect_well_formed(const std::string& svg) {
  std::vector<std::string> open;
  std::size_t i = 0;
  while ((i = svg.find('<', i)) != std::string::npos) {
    const std::size_t end = svg.find('>', i);
    REQUIRE(end != std::string::npos);
    const std::string tag = svg.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.front() == '?') continue;
    REQUIRE_MESSAGE(tag.find('<') == std::string::npos, "raw '<' in tag: ", tag);
    if (tag.front() == '/') {
      REQUIRE_MESSAGE(!open.empty(), "closing tag without an open one: ", tag);
      CHECK(open.back() == tag.substr(1));
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find(' ')));
    }
  }
  CHECK_MESSAGE(open.empty(), "unclosed elements: ", open.size());
  for (std::size_t a = svg.find('&'); a != std::string::npos; a = svg.find('&', a + 1)) {
    const std::string rest = svg.substr(a, 6);
    CHECK_MESSAGE(
        (rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;") ||
         rest.starts_with("&quot;") || rest.starts_with("&apos;")),
        "raw '&' at ", a);
  }
  CHECK(svg.starts_with("<?xml"));
  CHECK(count(svg, "<svg") == 1);
  CHECK(count(svg, "</svg>") == 1);
  CHECK(count(svg, "<script") == 0);  // a picture, nothing that runs
}

}  // namespace seqgrad::test
