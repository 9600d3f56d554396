// trainer/trained_prompts.h: which of the dispatcher's prompts the trainer has trained (or quarantined),
// as the lowest prompt number not trained yet. Async rollout and DAPO's replacements make the trainer
// take groups out of prompt order, so the count it consumed (JobState::prompts_dispatched) is not where
// a resume may start handing prompts out again: a prompt below it may still be in flight at the
// checkpoint, and if a policy version the resume discards then touched it, the buffer deletes it and
// only a dispatcher starting at or below it hands it out again. A resume therefore starts at
// first_untrained() (JobState::first_untrained_prompt); the prompts above it that were trained are
// refused by the buffer as done (a put of a checkpointed group is acknowledged, not stored).
//
// Prompt numbers are read from group ids: the dispatcher names prompt p's group "p<p>"
// (PromptDispatcher::prompt_at). Other ids (hand-made groups in tests) are not counted.
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace stride {

// p for a group id "p<p>" (decimal, no sign or leading zeros but "p0"); nullopt for anything else.
std::optional<int64_t> prompt_number(const std::string& group_id);

class TrainedPrompts {
   public:
    // `first_untrained`: what an earlier run knew (0 for a fresh job).
    explicit TrainedPrompts(int64_t first_untrained = 0) : first_(first_untrained) {}
    void add(const std::string& group_id);
    int64_t first_untrained() const { return first_; }

   private:
    int64_t first_;
    std::set<int64_t> above_;  // trained prompts above first_ (never first_ itself)
};

// Adds every group id of trained.jsonl's lines (trained and quarantined) to `into`; a missing file adds
// nothing. For a resume: the file holds exactly the steps up to the checkpoint by then.
void add_trained_log(const std::string& path, TrainedPrompts& into);

}  // namespace stride
