// The conversion state the rules of `stride config from-verl` share (common/verl_rules.cpp): the
// verl keys given, what each rule has read (the rest is reported), and the Stride keys written.
#pragma once
#include <map>
#include <set>
#include <string>

#include "common/verl_config.h"

namespace stride::verl {

class Rules {
   public:
    Rules(const VerlLeaves& given, VerlConversion& out) : given_(given), out_(out) {}

    // The verl value of `key`: given, else verl's documented default, else nullptr. Marks it read.
    const VerlValue* get(const std::string& key);
    bool given(const std::string& key) const;
    std::string text(const std::string& key);  // "" for null or absent; a list as "a,b"
    bool flag(const std::string& key);
    double num(const std::string& key);  // null: verl's default (or 0); Error naming the key if not a number

    void set(const std::string& stride_key, const std::string& value);      // the last set wins
    void copy(const std::string& verl_key, const std::string& stride_key);  // when given or defaulted
    void unmapped(const std::string& verl_key, const std::string& why);
    bool was_read(const std::string& key) const;
    VerlConversion& out() { return out_; }

   private:
    const VerlLeaves& given_;
    VerlConversion& out_;
    std::set<std::string> read_;
    std::map<std::string, VerlValue> defaults_;
};

// One per concern, run in this order by convert_verl_config.
void data_rules(Rules& r);
void model_rules(Rules& r);
void optim_rules(Rules& r);
void loss_rules(Rules& r);
void kl_rules(Rules& r);
void algorithm_rules(Rules& r);
void rollout_rules(Rules& r);
void reward_rules(Rules& r);
void trainer_rules(Rules& r);

}  // namespace stride::verl
