#include "reward/reward.h"

namespace stride {

const char* reward_status_name(RewardStatus s) {
    switch (s) {
        case RewardStatus::ok:
            return "ok";
        case RewardStatus::error:
            return "error";
        case RewardStatus::timeout:
            return "timeout";
        case RewardStatus::unparseable:
            return "unparseable";
    }
    return "?";
}

}  // namespace stride
