// trainer/trained_prompts.cpp: see trained_prompts.h.
#include "trainer/trained_prompts.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace stride {

std::optional<int64_t> prompt_number(const std::string& group_id) {
    if (group_id.size() < 2 || group_id.size() > 19 || group_id[0] != 'p') return std::nullopt;
    if (group_id[1] == '0' && group_id.size() > 2) return std::nullopt;
    int64_t p = 0;
    for (size_t i = 1; i < group_id.size(); ++i) {
        if (group_id[i] < '0' || group_id[i] > '9') return std::nullopt;
        p = p * 10 + (group_id[i] - '0');
    }
    return p;
}

void TrainedPrompts::add(const std::string& group_id) {
    const std::optional<int64_t> p = prompt_number(group_id);
    if (!p || *p < first_) return;
    above_.insert(*p);
    while (!above_.empty() && *above_.begin() == first_) {
        above_.erase(above_.begin());
        ++first_;
    }
}

void add_trained_log(const std::string& path, TrainedPrompts& into) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object()) continue;  // a torn last line of a crash: its step is trained again
        if (auto g = j.find("groups"); g != j.end() && g->is_array())
            for (const auto& group : *g)
                if (group.is_array() && !group.empty() && group[0].is_string())
                    into.add(group[0].get<std::string>());
        if (auto q = j.find("quarantined"); q != j.end() && q->is_array())
            for (const auto& id : *q)
                if (id.is_string()) into.add(id.get<std::string>());
    }
}

}  // namespace stride
