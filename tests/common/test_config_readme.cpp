// README.md must document every config key with its real default, in the table that
// `stride config keys` prints. Fails listing the keys that are missing, stale or wrong.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "common/config.h"
#include "common/config_schema.h"

namespace stride {
namespace {

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string unquote_code(const std::string& s) {
    std::string t = trim(s);
    if (t.size() >= 2 && t.front() == '`' && t.back() == '`') t = t.substr(1, t.size() - 2);
    return t;
}

std::vector<std::string> cells(const std::string& row) {
    std::vector<std::string> out;
    std::stringstream ss(row);
    std::string cell;
    std::getline(ss, cell, '|');  // before the leading '|'
    while (std::getline(ss, cell, '|')) out.push_back(trim(cell));
    if (!out.empty() && out.back().empty()) out.pop_back();
    return out;
}

// key -> default, from the rows of the table under the header "| key | type | default | meaning |".
std::map<std::string, std::string> readme_config_table(const std::string& text, bool& found) {
    std::map<std::string, std::string> rows;
    std::stringstream ss(text);
    std::string line;
    bool in_table = false;
    found = false;
    while (std::getline(ss, line)) {
        std::string t = trim(line);
        if (!in_table) {
            auto c = cells(t);
            if (t.rfind("|", 0) == 0 && c.size() == 4 && c[0] == "key" && c[2] == "default")
                in_table = found = true;
            continue;
        }
        if (t.rfind("|", 0) != 0) {
            in_table = false;  // a later table with the same header may continue the list
            continue;
        }
        auto c = cells(t);
        if (c.size() < 3 || c[0].rfind("---", 0) == 0 || c[0].rfind(":--", 0) == 0) continue;
        rows[unquote_code(c[0])] = unquote_code(c[2]);
    }
    return rows;
}

TEST(Readme, DocumentsEveryConfigKeyWithItsDefault) {
    std::string path = std::string(STRIDE_SOURCE_DIR) + "/README.md";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path
                    << " is missing; it must hold the config key table printed by `stride config keys`";
    std::stringstream buf;
    buf << in.rdbuf();
    bool found = false;
    auto rows = readme_config_table(buf.str(), found);
    ASSERT_TRUE(found) << path
                       << " has no table with the header \"| key | type | default | meaning |\"; paste the "
                       << "output of `stride config keys`";

    const JobConfig defaults;
    std::string missing, wrong, stale;
    for (const auto& k : config_schema()) {
        auto it = rows.find(k.key);
        std::string def = config_value_text(k, defaults);
        if (it == rows.end())
            missing += "\n  " + k.key + " (default " + def + ")";
        else if (it->second != def)
            wrong += "\n  " + k.key + ": README says " + it->second + ", the default is " + def;
    }
    for (const auto& [key, def] : rows)
        if (!find_config_key(key)) stale += "\n  " + key;
    EXPECT_TRUE(missing.empty()) << "README.md does not document these config keys:" << missing;
    EXPECT_TRUE(wrong.empty()) << "README.md shows wrong defaults:" << wrong;
    EXPECT_TRUE(stale.empty()) << "README.md documents keys that do not exist:" << stale;
}

}  // namespace
}  // namespace stride
