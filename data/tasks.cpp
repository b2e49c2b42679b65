#include "data/tasks.h"

#include <algorithm>
#include <array>

#include <fmt/core.h>

namespace seqgrad::data {

namespace {

constexpr std::string_view kSymbols = "abcdefghijklmnopqrstuvwxyzABCDEF";

std::int64_t uniform_int(Generator& gen, std::int64_t low, std::int64_t high) {  // [low, high]
  return low +
         static_cast<std::int64_t>(gen.next_u64() % static_cast<std::uint64_t>(high - low + 1));
}

std::string random_symbols(Generator& gen, std::int64_t min_len, std::int64_t max_len) {
  std::string s(static_cast<std::size_t>(uniform_int(gen, min_len, max_len)), ' ');
  for (char& ch : s) ch = kSymbols[static_cast<std::size_t>(uniform_int(gen, 0, 31))];
  return s;
}

std::string random_number(Generator& gen, std::int64_t max_digits) {
  const std::int64_t digits = uniform_int(gen, 1, max_digits);
  std::string s = std::to_string(uniform_int(gen, digits == 1 ? 0 : 1, 9));
  for (std::int64_t i = 1; i < digits; ++i) s += static_cast<char>('0' + uniform_int(gen, 0, 9));
  return s;
}

// Decimal addition of digit strings (no overflow whatever their length).
std::string add_decimal(const std::string& a, const std::string& b) {
  std::string out;
  int carry = 0;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    const int da = i < a.size() ? a[a.size() - 1 - i] - '0' : 0;
    const int db = i < b.size() ? b[b.size() - 1 - i] - '0' : 0;
    out += static_cast<char>('0' + (da + db + carry) % 10);
    carry = (da + db + carry) / 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Pair random_date(Generator& gen) {
  static constexpr std::array<const char*, 12> kMonths = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  static constexpr std::array<const char*, 7> kWeekdays = {"Mon", "Tue", "Wed", "Thu",
                                                           "Fri", "Sat", "Sun"};
  const int year = static_cast<int>(uniform_int(gen, 1950, 2049));
  const int month = static_cast<int>(uniform_int(gen, 1, 12));
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int day = static_cast<int>(uniform_int(gen, 1, kDays[month - 1] + (month == 2 && leap)));
  const std::string name = kMonths[static_cast<std::size_t>(month - 1)];
  std::string source;
  switch (uniform_int(gen, 0, 3)) {
    case 0:
      source = fmt::format("{} {} {}", day, name, year);
      break;
    case 1:
      source = fmt::format("{} {}, {}", name, day, year);
      break;
    case 2:
      source = fmt::format("{:02}/{:02}/{}", day, month, year);
      break;
    default: {
      // Zeller-style day of week via days since 1970-01-01 (a Thursday).
      int days = 0;
      for (int y = 1970; y < year; ++y)
        days += 365 + ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
      for (int y = year; y < 1970; ++y)
        days -= 365 + ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
      for (int m = 1; m < month; ++m)
        days += kDays[static_cast<std::size_t>(m - 1)] + (m == 2 && leap);
      days += day - 1;
      const int weekday = ((days % 7) + 7 + 3) % 7;  // 0 = Monday
      source = fmt::format("{} {} {} {}", kWeekdays[static_cast<std::size_t>(weekday)], day,
                           name.substr(0, 3), year);
    }
  }
  return {source, fmt::format("{}-{:02}-{:02}", year, month, day)};
}

}  // namespace

std::vector<std::string> task_names() { return {"reverse", "copy", "sort", "add", "dates"}; }

std::vector<Pair> generate_task(const TaskOptions& t, std::int64_t n, Generator& gen) {
  const auto names = task_names();
  check(std::find(names.begin(), names.end(), t.name) != names.end(),
        "unknown task '{}' (known: reverse, copy, sort, add, dates)", t.name);
  check(t.min_len >= 1 && t.min_len <= t.max_len && t.max_len <= 1000,
        "task {}: need 1 <= --min-len <= --max-len <= 1000, got {} and {}", t.name, t.min_len,
        t.max_len);
  std::vector<Pair> pairs;
  pairs.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    if (t.name == "dates") {
      pairs.push_back(random_date(gen));
    } else if (t.name == "add") {
      const std::int64_t digits = std::max<std::int64_t>(1, t.max_len / 2);
      const std::string a = random_number(gen, digits), b = random_number(gen, digits);
      pairs.push_back({a + "+" + b, add_decimal(a, b)});
    } else {
      std::string s = random_symbols(gen, t.min_len, t.max_len), target = s;
      if (t.name == "reverse") std::reverse(target.begin(), target.end());
      if (t.name == "sort") std::sort(target.begin(), target.end());
      pairs.push_back({std::move(s), std::move(target)});
    }
  }
  return pairs;
}

std::vector<Pair> held_out_set(const TaskOptions& task, std::int64_t n) {
  Generator gen(1'000'003);  // the held-out seed of reference/cho.py
  return generate_task(task, n, gen);
}

}  // namespace seqgrad::data
