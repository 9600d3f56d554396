// Role subcommands of `stride` (run, role, eval, data, reward ...), spliced into main.cpp's table.
#pragma once

namespace stride::cli {

int data(int argc, char** argv);    // stride data gen --task arith|collatz --n N --seed S --out FILE
int config(int argc, char** argv);  // stride config keys | check CONFIG [key=value ...] | from-verl ...
int config_from_verl(int argc, char** argv);  // stride config from-verl [VERL.yaml] [k=v ...] [-o FILE]
int run(int argc, char** argv);               // stride run CONFIG [key=value ...]
int eval(int argc, char** argv);              // stride eval CONFIG checkpoint=DIR [key=value ...]
int role(int argc, char** argv);              // stride role buffer|trainer|rollout|scheduler --config FILE
int reward(int argc, char** argv);  // stride reward score --fn SPEC | reward worker (plug-in process)
int report(int argc, char** argv);  // stride report RUN_DIR [RUN_DIR...] [--out FILE]: HTML page of curves
int plot(int argc, char** argv);    // stride plot RUN_DIR KEY...: text charts in the terminal
int chat(int argc, char** argv);    // stride chat render --tokenizer-config FILE: the model's chat template
int launch(int argc, char** argv);  // stride launch slurm CONFIG: the job as Slurm srun steps
int keys(int argc, char** argv);    // stride keys gen DIR: a CURVE key set for roles on several machines
// stride generate with --chat rendering the model's own chat_template (main.cpp uses it in place of
// the engine's generate when the binary has the roles).
int generate_with_model_template(int argc, char** argv);

}  // namespace stride::cli

// Each entry: {"name", function, "help"},
#define STRIDE_ROLE_COMMANDS                                                                                \
    {"run", stride::cli::run, "run an RL job: run CONFIG [key=value ...]"},                                 \
        {"role", stride::cli::role, "run one role of a job as its own process: role ROLE --config FILE"},   \
        {"eval", stride::cli::eval,                                                                         \
         "accuracy of a checkpoint on the eval split: eval CONFIG checkpoint=DIR"},                         \
        {"data", stride::cli::data, "generate a synthetic dataset: data gen --task arith|collatz ..."},     \
        {"reward", stride::cli::reward,                                                                     \
         "score JSON lines with a reward: reward score --fn NAME|plugin:lib.so|python:file.py:fn"},         \
        {"config", stride::cli::config,                                                                     \
         "list config keys, check CONFIG [key=value ...] and print it resolved, or convert from-verl"},     \
        {"report", stride::cli::report,                                                                     \
         "an HTML page of a run's curves (several runs overlaid): report RUN_DIR... [--out FILE]"},         \
        {"chat", stride::cli::chat,                                                                         \
         "render conversations with a model's chat template: chat render --tokenizer-config FILE"},         \
        {"plot", stride::cli::plot, "text charts of a run's metrics in the terminal: plot RUN_DIR KEY..."}, \
        {"launch", stride::cli::launch,                                                                     \
         "submit a job to Slurm, one srun step per role: launch slurm CONFIG"},                             \
        {"keys", stride::cli::keys, "write a CURVE key set for a job's roles: keys gen DIR"},
