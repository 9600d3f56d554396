// The files beside a model's weights that make a saved model directory usable on its own (by
// `stride generate --model DIR`, Hugging Face or vLLM): tokenizer.json, tokenizer_config.json (the
// chat template, special tokens) and generation_config.json. The job copies the ones its source
// model had into every model directory it writes (checkpoints/step_N/model/, sft_model/).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"

namespace stride {

// {source path, file name in the saved directory} of each side file the job's source has: the
// tokenizer the job reads (`tokenizer`, else <model.path>/tokenizer.json) as tokenizer.json, and
// <model.path>/tokenizer_config.json and generation_config.json. Missing ones are left out.
std::vector<std::pair<std::string, std::string>> model_side_files(const JobConfig& cfg);

// Copies model_side_files(cfg) into `dir` (which exists). Throws Error naming the file on failure.
void copy_model_side_files(const JobConfig& cfg, const std::string& dir);

}  // namespace stride
