// stride::PeerUnreachable: a peer (another role) did not answer within the deadline that bounds the
// call (deadlines.* in the job config). peer() names it ("buffer", "prompt dispatcher", "weight
// publisher"); the message names its endpoint and the deadline's key, so that the caller can stop
// cleanly: the trainer checkpoints first, a rollout worker fails naming the peer.
#pragma once
#include <string>
#include <utility>

#include "common/base/error.h"

namespace stride {

class PeerUnreachable : public Error {
   public:
    PeerUnreachable(std::string peer, const std::string& what) : Error(what), peer_(std::move(peer)) {}
    const std::string& peer() const { return peer_; }

   private:
    std::string peer_;
};

}  // namespace stride
