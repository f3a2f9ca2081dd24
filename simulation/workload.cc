#include "simulation/workload.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <utility>

#include "cart/guest_merge.h"
#include "common/assert.h"
#include "common/key.h"
#include "ring/preference_list.h"
#include "wire/cart_mutation.h"

namespace trolley::sim {

void WriteAvailability::Add(const WriteAvailability& o) {
  write_attempts += o.write_attempts;
  write_attempts_ok += o.write_attempts_ok;
  eligible_writes += o.eligible_writes;
  eligible_writes_ok += o.eligible_writes_ok;
  partition_writes += o.partition_writes;
  partition_writes_ok += o.partition_writes_ok;
  eligible_writes_unavailable += o.eligible_writes_unavailable;
  eligible_writes_timeout += o.eligible_writes_timeout;
  eligible_writes_silent += o.eligible_writes_silent;
  eligible_writes_conn_failed += o.eligible_writes_conn_failed;
}
namespace {

constexpr uint64_t kClientTimeoutNs = 2000 * kNsPerMs;  // ClientOptions.timeout
constexpr uint32_t kAttemptsMax = 4;                    // ClientOptions.attempts_max
constexpr uint64_t kBackoffInitialMs = 10, kBackoffMaxMs = 200;
constexpr uint64_t kNodeDownForNs = 1000 * kNsPerMs;  // client.cc kNodeDownFor

bool Retryable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kTimeout ||
         code == StatusCode::kBusy;
}

void SetAttempt(Message& m, uint64_t id, uint32_t timeout_ms) {
  std::visit(
      [&](auto& x) {
        if constexpr (requires {
                        x.id;
                        x.timeout_ms;
                      }) {
          x.id = RequestId{id};
          x.timeout_ms = timeout_ms;
        }
      },
      m);
}

uint64_t ReplyId(const Message& m) {
  if (const auto* g = std::get_if<ClientGetReply>(&m)) return g->id.value;
  if (const auto* p = std::get_if<ClientPutReply>(&m)) return p->id.value;
  if (const auto* u = std::get_if<CartUpdateReply>(&m)) return u->id.value;
  return 0;
}

const CartLimits kLimits{};

}  // namespace

// One shopper's device: a cart operation at a time, over a model of the
// client library's request logic (see workload.h).
struct Workload::Device {
  Device(Workload& workload, int device_index, int shopper_index, uint64_t seed)
      : w(workload),
        index(device_index),
        shopper(shopper_index),
        conn(0),
        rng(seed),
        clock_offset_ms(static_cast<int64_t>(rng.Range(0, 2000)) - 1000) {}

  // ---- one client request (Client::Impl::Op) ----
  struct Call {
    uint64_t generation = 0;
    bool active = false;
    bool is_put = false;
    Message request;
    int ns = 0;
    uint64_t deadline_ns = 0;
    std::vector<int> route;
    size_t next = 0;
    uint32_t attempts = 0;
    Status last_error;
    uint64_t request_id = 0;  // the attempt in flight; 0 between attempts
    int node = -1;
    bool eligible = false, during_partition = false;
    std::function<void(Result<Message>)> done;
  };

  // ---- one cart operation ----
  enum class OpKind { kMutate, kGet, kMergeGuest };
  struct Op {
    OpKind kind = OpKind::kMutate;
    int ns = 0;
    std::string key;        // the cart (the user cart for a merge)
    std::string guest_key;  // merge: the guest cart
    Mutation m;             // its `observed` is set by the first attempt; a retry sends it again
    GuestMergeStrategy strategy = GuestMergeStrategy::kSum;
    uint32_t retries = 0;
    std::string order_id;  // a checkout (m is its clear); empty otherwise
    size_t lines_bought = 0;
    bool IsCheckout() const { return !order_id.empty(); }
  };
  struct Read {
    CartState state{CartSemantics::kUnionMax};
    VersionVector context;
    size_t siblings = 0;
    bool found = false;
  };

  Workload& w;
  int index;
  int shopper;
  uint64_t conn;
  Random rng;
  int64_t clock_offset_ms;
  uint64_t next_request = 0;
  std::vector<uint64_t> down_until_ns;
  Call call;
  Op op;
  bool busy = false;
  // The last view of each cart ("ns/key") this device was shown: what its
  // next OR-Set removal acts on (CartView::context in the Cart API).
  std::map<std::string, CartState> views;
  std::string ViewKey() const { return Ns(op.ns).name + "/" + op.key; }

  std::string Name() const {
    return "d" + std::to_string(shopper + 1) + "." + std::to_string(index + 1);
  }
  uint64_t NowWallMs() const {
    return static_cast<uint64_t>(static_cast<int64_t>(SimClock::kWallBaseMs + w.loop_.now_ms()) +
                                 clock_offset_ms);
  }
  uint64_t NewId() { return rng.Next() | 1; }
  uint64_t orders = 0;  // checkouts this device started
  // Mutation ids as the Cart API numbers them (CartSession per cart); a
  // device that gave up on a mutation starts another session for that cart.
  std::map<std::string, CartSession> cart_sessions;
  uint64_t NewMutationId() {
    auto it = cart_sessions.find(ViewKey());
    if (it == cart_sessions.end() || it->second.exhausted()) {
      it =
          cart_sessions.insert_or_assign(ViewKey(), CartSession(rng.Next() >> kMutationCounterBits))
              .first;
    }
    return it->second.Next();
  }
  const SimNamespace& Ns(int ns) const { return w.config_.namespaces[static_cast<size_t>(ns)]; }
  ObjectKey Key(int ns, const std::string& key) const { return ObjectKey{Ns(ns).name, key}; }
  void Line(const std::string& text) {
    if (w.trace_.lines()) w.trace_.Line(w.loop_.now_ns(), Name() + " " + text);
  }

  // ---- requests ----

  std::vector<int> Route(int ns, const std::string& key) {
    const PreferenceList pref = PreferenceListForKey(w.cluster_.ring(), Ns(ns).name, key, Ns(ns).n);
    std::vector<int> route;
    for (const auto* list : {&pref.primaries, &pref.fallbacks}) {
      for (const NodeId& n : *list) route.push_back(w.cluster_.IndexOf(n.name));
    }
    if (rng.Chance(w.config_.any_node_p)) {
      // A client behind a load balancer: any node first (it forwards).
      const auto first = static_cast<std::ptrdiff_t>(rng.Uniform(route.size()));
      std::rotate(route.begin(), route.begin() + first, route.begin() + first + 1);
    }
    const uint64_t now = w.loop_.now_ns();
    std::stable_partition(route.begin(), route.end(),
                          [&](int n) { return down_until_ns[static_cast<size_t>(n)] <= now; });
    return route;
  }

  void StartCall(Message request, int ns, const std::string& key, bool is_put,
                 std::function<void(Result<Message>)> done) {
    TROLLEY_ASSERT(!call.active);
    ++w.stats_.requests;
    call = Call{};
    call.generation = ++call_generation;
    call.active = true;
    call.is_put = is_put;
    call.request = std::move(request);
    call.ns = ns;
    call.deadline_ns = w.loop_.now_ns() + kClientTimeoutNs;
    call.route = Route(ns, key);
    call.done = std::move(done);
    Attempt();
  }
  uint64_t call_generation = 0;

  void Attempt() {
    const uint64_t now = w.loop_.now_ns();
    if (now >= call.deadline_ns || call.route.empty()) {
      return Finish(Status::Timeout(
          "no answer in time after " + std::to_string(call.attempts) + " attempt(s)" +
          (call.last_error.ok() ? "" : "; last: " + call.last_error.ToString())));
    }
    ++w.stats_.attempts;
    ++call.attempts;
    call.node = call.route[call.next % call.route.size()];
    call.request_id = ++next_request;
    const uint64_t left_ms = (call.deadline_ns - now) / kNsPerMs;
    SetAttempt(call.request, call.request_id,
               static_cast<uint32_t>(std::max<uint64_t>(1, left_ms * 9 / 10)));
    if (call.is_put) {
      ++w.stats_.writes.write_attempts;
      call.eligible = WriteEligible(call.node, Ns(call.ns).w);
      call.during_partition = w.cluster_.AnyPartition();
      if (call.eligible) {
        ++w.stats_.writes.eligible_writes;
        if (call.during_partition) ++w.stats_.writes.partition_writes;
      }
    }
    w.cluster_.ClientSend(conn, call.node, call.request);
    const uint64_t gen = call.generation, id = call.request_id;
    w.loop_.At(call.deadline_ns, [this, gen, id] {
      if (call.active && call.generation == gen && call.request_id == id) {
        OnAttemptResult(Status::Timeout("no answer before the deadline"));
      }
    });
  }

  // The node is up and W nodes (it included) are up and reachable from it.
  bool WriteEligible(int node, uint32_t wq) const {
    Cluster& c = w.cluster_;
    if (!c.up(node) || c.paused(node)) return false;
    uint32_t reachable = 0;
    for (int j = 0; j < c.size(); ++j) {
      if (!c.up(j) || c.paused(j)) continue;
      if (j == node || (!c.blocked(node, j) && !c.blocked(j, node))) ++reachable;
    }
    return reachable >= wq;
  }

  void OnAttemptResult(Result<Message> r) {
    TROLLEY_ASSERT(call.active && call.request_id != 0);
    Status failure;
    if (!r.ok()) {
      failure = r.status();
      if (call.is_put && call.eligible) {
        ++(failure.code() == StatusCode::kTimeout ? w.stats_.writes.eligible_writes_silent
                                                  : w.stats_.writes.eligible_writes_conn_failed);
      }
      if (failure.code() == StatusCode::kUnavailable) {
        down_until_ns[static_cast<size_t>(call.node)] = w.loop_.now_ns() + kNodeDownForNs;
      }
    } else {
      const Status replied = StatusOf(*r);
      const StatusCode code = replied.code();
      if (call.is_put && call.eligible && code == StatusCode::kUnavailable)
        ++w.stats_.writes.eligible_writes_unavailable;
      if (call.is_put && call.eligible && code == StatusCode::kTimeout)
        ++w.stats_.writes.eligible_writes_timeout;
      if (call.is_put && code == StatusCode::kOk) {
        ++w.stats_.writes.write_attempts_ok;
        if (call.eligible) {
          ++w.stats_.writes.eligible_writes_ok;
          if (call.during_partition) ++w.stats_.writes.partition_writes_ok;
        }
      }
      if (Retryable(code))
        failure = Status(code, w.cluster_.name(call.node) + ": " + replied.message());
    }
    call.request_id = 0;
    if (failure.ok() || !Retryable(failure.code())) return Finish(std::move(r));
    call.last_error = failure;
    if (call.attempts >= kAttemptsMax) return Finish(failure);
    ++call.next;
    const uint64_t cap =
        std::min<uint64_t>(kBackoffMaxMs, kBackoffInitialMs << std::min(call.attempts, 20u));
    const uint64_t wait_ms = rng.Uniform(cap + 1);
    const uint64_t gen = call.generation;
    w.loop_.After(wait_ms * kNsPerMs, [this, gen] {
      if (call.active && call.generation == gen) Attempt();
    });
  }

  void Finish(Result<Message> r) {
    call.active = false;
    call.request_id = 0;
    auto done = std::move(call.done);
    call.done = nullptr;
    done(std::move(r));
  }

  void OnMessage(Message m) {
    const uint64_t id = ReplyId(m);
    if (!call.active || id == 0 || id != call.request_id) return;  // late, duplicate or stray
    OnAttemptResult(std::move(m));
  }
  void OnConnectionFailed(int node) {
    if (!call.active || call.request_id == 0 || call.node != node) return;
    OnAttemptResult(Status::Unavailable("connection to " + w.cluster_.name(node) + " failed"));
  }

  // ---- the Cart API (client/cart_client.cc) ----

  // read_quorum 0: the namespace's R.
  void ReadCart(int ns, const std::string& key, std::function<void(Result<Read>)> done,
                uint32_t read_quorum = 0) {
    const CartSemantics semantics = Ns(ns).semantics;
    const uint64_t started_ns = w.loop_.now_ns();
    StartCall(ClientGet{.ns = Ns(ns).name, .key = key, .r = read_quorum}, ns, key, false,
              [this, ns, key, semantics, started_ns, done = std::move(done)](Result<Message> r) {
                if (!r.ok()) return done(r.status());
                const auto* m = std::get_if<ClientGetReply>(&*r);
                if (m == nullptr) return done(Status::Corruption("unexpected reply to a get"));
                Read read{CartState(semantics), {}, 0, false};
                if (m->code == StatusCode::kNotFound) return done(std::move(read));
                if (m->code != StatusCode::kOk) return done(Status(m->code, m->message));
                read.context = m->state.context();
                std::vector<CartState> siblings;
                const uint64_t now = NowWallMs();
                for (const Sibling& s : m->state.siblings()) {
                  if (s.ExpiredAt(now)) continue;
                  ++read.siblings;
                  if (s.tombstone) continue;
                  auto state = CartState::Decode(s.value, semantics);
                  if (!state.ok()) {
                    w.stats_.failures.push_back(Ns(ns).name + "/" + key +
                                                " holds a value that is not a " +
                                                std::string(CartSemanticsName(semantics)) +
                                                " cart: " + state.status().ToString());
                    return done(state.status());
                  }
                  siblings.push_back(std::move(*state));
                }
                read.found = read.siblings > 0;
                if (read.siblings > 0) ++w.stats_.siblings[std::min<size_t>(read.siblings, 5) - 1];
                read.state = CartState::Merge(semantics, siblings);
                w.history_.NoteRead(Key(ns, key), read.state, started_ns);
                views.insert_or_assign(Ns(ns).name + "/" + key, read.state);
                done(std::move(read));
              });
  }

  void WriteCart(int ns, const std::string& key, const CartState& state,
                 const VersionVector& context, uint64_t write_id,
                 std::function<void(Status)> done) {
    ClientPut put{.ns = Ns(ns).name,
                  .key = key,
                  .context = context,
                  .value = state.Encode(),
                  .write_id = write_id};
    StartCall(std::move(put), ns, key, true, [done = std::move(done)](Result<Message> r) {
      if (!r.ok()) return done(r.status());
      const auto* m = std::get_if<ClientPutReply>(&*r);
      if (m == nullptr) return done(Status::Corruption("unexpected reply to a put"));
      done(m->code == StatusCode::kOk ? Status::Ok() : Status(m->code, m->message));
    });
  }

  // One CartUpdate to `ns`/`update.cart_id`: the cart's state at the
  // coordinator after the write, or the failure.
  void Update(int ns, CartUpdate update, std::function<void(Result<SiblingSet>)> done) {
    const std::string key = update.cart_id;
    StartCall(std::move(update), ns, key, true, [done = std::move(done)](Result<Message> r) {
      if (!r.ok()) return done(r.status());
      auto* reply = std::get_if<CartUpdateReply>(&*r);
      if (reply == nullptr) return done(Status::Corruption("unexpected reply to an update"));
      if (reply->code != StatusCode::kOk) return done(Status(reply->code, reply->message));
      done(std::move(reply->state));
    });
  }

  // One CartUpdate (CartClient::SendUpdate): the node applies `m` to its
  // copy; the reply's state becomes this device's view of the cart.
  void SendUpdate(const Mutation& m, std::function<void(Status)> done) {
    Update(op.ns, CartUpdateOf(Ns(op.ns).name, op.key, m),
           [this, done = std::move(done)](Result<SiblingSet> state) {
             if (!state.ok()) return done(state.status());
             RecordView(*state);
             done(Status::Ok());
           });
  }

  // The device's view of the cart from `state` (a reply's): null when a
  // sibling is not a cart (the next read reports it).
  const CartState* RecordView(const SiblingSet& state) {
    const CartSemantics semantics = Ns(op.ns).semantics;
    std::vector<CartState> siblings;
    const uint64_t now = NowWallMs();
    for (const Sibling& s : state.siblings()) {
      if (s.ExpiredAt(now) || s.tombstone) continue;
      auto cart = CartState::Decode(s.value, semantics);
      if (!cart.ok()) return nullptr;
      siblings.push_back(std::move(*cart));
    }
    return &views.insert_or_assign(ViewKey(), CartState::Merge(semantics, siblings)).first->second;
  }

  // A mutation as the Cart API sends it (CartClient::Mutate): adds and
  // OR-Set removals are one CartUpdate (a removal carries the tags of this
  // device's last view of the cart, read first if it has none); union+max
  // removals are a read-modify-write.
  void RunMutate() {
    const bool update =
        op.m.kind == Mutation::Kind::kAdd || Ns(op.ns).semantics == CartSemantics::kOrSet;
    if (!update) return RunReadModifyWrite();
    if (op.m.kind == Mutation::Kind::kAdd || op.m.observed) {  // a retry keeps its tags
      const auto view = views.find(ViewKey());
      return SendObserved(view == views.end() ? CartState(Ns(op.ns).semantics) : view->second);
    }
    if (const auto view = views.find(ViewKey()); view != views.end()) {
      return SendObserved(view->second);
    }
    ReadCart(op.ns, op.key, [this](Result<Read> r) {
      if (!r.ok()) return OpFailed(r.status());
      SendObserved(r->state);
    });
  }

  // Sends op.m acting on `view` (OR-Set removals: exactly its tags). A
  // retry is the same request: it removes what the first attempt's view
  // showed, never what the device saw since (the mutation may have landed).
  void SendObserved(const CartState& view) {
    const ObjectKey key = Key(op.ns, op.key);
    if (op.m.kind != Mutation::Kind::kAdd && !op.m.observed) {
      op.m.observed = view.ObservedTags(op.m.kind == Mutation::Kind::kClear ? nullptr : &op.m.sku);
    }
    const Mutation m = op.m;
    const uint32_t attempt =
        view.Applied(m.id) ? kNoAttempt : w.history_.Observe(key, Ns(op.ns).semantics, m, view);
    if (op.IsCheckout()) {
      w.history_.MarkCheckout(key, m.id);
      // The lines returned to the shopper: those of the view the first
      // attempt's tags came from (a retry sends the same tags).
      if (op.retries == 0) op.lines_bought = view.Lines(kLimits).size();
    }
    w.history_.Written(key, m.id, attempt);
    SendUpdate(m, [this, attempt](Status s) {
      if (!s.ok()) return OpFailed(s);
      OpAcked(attempt);
    });
  }

  void RunReadModifyWrite() {
    const ObjectKey key = Key(op.ns, op.key);
    ReadCart(op.ns, op.key, [this, key](Result<Read> r) {
      if (!r.ok()) return OpFailed(r.status());
      Read& read = *r;
      const bool already = read.state.Applied(op.m.id);
      const uint32_t attempt =
          already ? kNoAttempt : w.history_.Observe(key, Ns(op.ns).semantics, op.m, read.state);
      if (Status s = read.state.Apply(op.m, kLimits); !s.ok()) return OpFailed(s);
      if (already && read.siblings <= 1) return OpAcked(kNoAttempt);  // a retry that had landed
      w.history_.Written(key, op.m.id, attempt);
      // A fresh store write id, as client/cart_client.cc: the mutation id
      // lives in the cart (regression seeds 845, 1844, ...).
      WriteCart(op.ns, op.key, read.state, read.context, NewId(), [this, attempt](Status s) {
        if (!s.ok()) return OpFailed(s);
        OpAcked(attempt);
      });
    });
  }

  void RunGet() {
    ReadCart(op.ns, op.key, [this](Result<Read> r) {
      if (!r.ok()) return OpFailed(r.status());
      if (r->siblings <= 1) return OpAcked(kNoAttempt);
      // Resolve: the merge written back with the joined context; its
      // failure does not fail the read.
      WriteCart(op.ns, op.key, r->state, r->context, NewId(),
                [this](Status) { OpAcked(kNoAttempt); });
    });
  }

  // A guest merge as CartClient::MergeGuest: the guest cart's lines (this
  // device's view of that cart, or else a read of one replica, r = 1) in
  // one CartUpdate that the user cart's coordinator merges into its own
  // copy (node/cart_update.h, the real code), then the guest cart marked
  // merged_into, also on the node. The user cart is never read.
  void RunMergeGuest() {
    const auto view = views.find(Ns(op.ns).name + "/" + op.guest_key);
    if (view != views.end() && rng.Chance(0.5)) return SendMergeGuest(view->second, true);
    ReadCart(
        op.ns, op.guest_key,
        [this](Result<Read> guest) {
          if (!guest.ok()) return OpFailed(guest.status());
          SendMergeGuest(guest->state, guest->found);
        },
        /*r=*/1);
  }

  // The history learns the merge's mutations from the ids alone
  // (GuestMergeMutationId): the coordinator computes at most one add per
  // guest line (cart/guest_merge.h; its quantity depends on that copy of
  // the user cart, so it is recorded as 0 and union+max lost increments do
  // not count it). Each is written (it may land: never a phantom); it is
  // acked when the reply's state, the coordinator's copy after the merge,
  // holds it (the merge may compute nothing for a line, e.g. keep-user).
  void SendMergeGuest(const CartState& guest, bool guest_found) {
    const ObjectKey key = Key(op.ns, op.key);
    const uint64_t merge_id = MergeId(), now = NowWallMs();
    merge_ids.clear();
    for (const CartLine& line : guest.Lines(kLimits)) {
      const uint64_t id = GuestMergeMutationId(merge_id, line.sku);
      const uint32_t attempt =
          w.history_.Observe(key, Ns(op.ns).semantics, Mutation::Add(id, line.sku, 0, now), guest);
      w.history_.Written(key, id, attempt);
      merge_ids.push_back(MergeMutation{id, line.sku, attempt});
    }
    const std::string user_key = Ns(op.ns).name + "/" + op.key;
    const bool mark = guest_found && guest.merged_into() != user_key;
    Update(op.ns, GuestMergeUpdateOf(Ns(op.ns).name, op.key, guest, op.strategy, merge_id, now),
           [this, mark, user_key, merge_id, now](Result<SiblingSet> state) {
             if (!state.ok()) return OpFailed(state.status());
             const CartState* user = RecordView(*state);
             for (const MergeMutation& m : merge_ids) {
               if (user == nullptr) break;
               const bool applied = Ns(op.ns).semantics == CartSemantics::kOrSet
                                        ? user->HasLiveTag(m.id)
                                        : user->Applied(m.id) && user->lines().contains(m.sku);
               if (!applied) continue;
               w.history_.Acked(Key(op.ns, op.key), m.id, m.attempt);
               ++w.stats_.merge_adds_acked;
             }
             if (!mark) return OpAcked(kNoAttempt);
             Update(op.ns,
                    MarkMergedUpdateOf(Ns(op.ns).name, op.guest_key, user_key, merge_id, now),
                    [this](Result<SiblingSet> marked) {
                      if (!marked.ok()) return OpFailed(marked.status());
                      OpAcked(kNoAttempt);
                    });
           });
  }
  struct MergeMutation {
    uint64_t id;
    std::string sku;
    uint32_t attempt;
  };
  std::vector<MergeMutation> merge_ids;
  uint64_t MergeId() const {
    return GuestMergeId(Ns(op.ns).name, op.guest_key, Ns(op.ns).name, op.key);
  }

  // ---- operations ----

  void RunOp() {
    busy = true;
    w.trace_.Event(kTraceClientOp, conn, static_cast<uint64_t>(op.kind), op.m.id, op.retries);
    if (w.trace_.lines()) Line("op " + Describe());
    switch (op.kind) {
      case OpKind::kMutate:
        return RunMutate();
      case OpKind::kGet:
        return RunGet();
      case OpKind::kMergeGuest:
        return RunMergeGuest();
    }
  }

  std::string Describe() const {
    std::string out = Ns(op.ns).name + "/" + op.key;
    switch (op.kind) {
      case OpKind::kGet:
        return "get " + out;
      case OpKind::kMergeGuest:
        return "merge-guest " + Ns(op.ns).name + "/" + op.guest_key + " into " + out +
               " strategy=" + std::string(GuestMergeStrategyName(op.strategy));
      case OpKind::kMutate:
        break;
    }
    static const char* kNames[] = {"add", "set", "remove", "clear"};
    out = (op.IsCheckout() ? "checkout order=" + op.order_id
                           : std::string(kNames[static_cast<int>(op.m.kind)])) +
          " " + out;
    if (!op.m.sku.empty()) out += " sku=" + op.m.sku;
    if (op.m.kind == Mutation::Kind::kAdd || op.m.kind == Mutation::Kind::kSetQuantity) {
      out += " q=" + std::to_string(op.m.quantity);
    }
    return out + " id=" + std::to_string(op.m.id) +
           (op.retries ? " retry=" + std::to_string(op.retries) : "");
  }

  // `attempt`: the History attempt whose write was acknowledged, if any.
  bool IsAdd() const { return op.kind == OpKind::kMutate && op.m.kind == Mutation::Kind::kAdd; }

  void OpAcked(uint32_t attempt) {
    busy = false;
    ++w.stats_.ops_acked;
    if (IsAdd()) ++w.stats_.adds_acked;
    if (op.kind == OpKind::kMergeGuest) ++w.stats_.merges_acked;
    if (op.IsCheckout()) {
      w.history_.CheckoutAcked(Key(op.ns, op.key), op.m.id, w.loop_.now_ns());
      ++w.stats_.checkouts_acked;
      w.stats_.checkout_lines_bought += op.lines_bought;
    }
    if (op.kind == OpKind::kMutate) w.history_.Acked(Key(op.ns, op.key), op.m.id, attempt);
    w.trace_.Event(kTraceClientOp, conn, 100, op.m.id);
    if (w.trace_.lines()) Line("acked " + Describe());
    ScheduleNext();
  }

  void OpFailed(const Status& s) {
    busy = false;
    w.trace_.Event(kTraceClientOp, conn, 200 + static_cast<uint64_t>(s.code()), op.m.id);
    if (w.trace_.lines()) Line("failed " + Describe() + ": " + s.ToString());
    if (Retryable(s.code()) && op.retries < w.config_.device_retries) {
      ++op.retries;
      ++w.stats_.device_retries;
      busy = true;
      w.loop_.After(rng.Range(50, 500) * kNsPerMs, [this] { RunOp(); });
      return;
    }
    if (IsAdd()) ++w.stats_.adds_gave_up;
    if (op.kind == OpKind::kMergeGuest) ++w.stats_.merges_gave_up;
    if (op.IsCheckout()) ++w.stats_.checkouts_gave_up;
    if (op.kind == OpKind::kMutate) cart_sessions.erase(ViewKey());
    if (Retryable(s.code())) {
      ++w.stats_.ops_failed;
    } else {
      ++w.stats_.ops_refused;
    }
    ScheduleNext();
  }

  void ScheduleNext() {
    const double u = rng.NextDouble();
    const auto think = static_cast<uint64_t>(-std::log1p(-u) *
                                             static_cast<double>(w.config_.think_ms_mean) * 1000.0);
    w.loop_.After(think * kNsPerUs + 1, [this] { NextOp(); });
  }

  void NextOp() {
    if (w.loop_.now_ns() >= w.stop_ns_) return;
    ++w.stats_.ops_started;
    op = Op{};
    op.ns = static_cast<int>(rng.Uniform(w.config_.namespaces.size()));
    Session& session = w.sessions_[static_cast<size_t>(shopper)];
    if (session.ops >= session.ops_max) w.NewSession(shopper);
    ++session.ops;
    const std::string suffix = std::to_string(shopper + 1) + "-" + std::to_string(session.number);
    const bool guest_phase = w.config_.guests && !session.merged[static_cast<size_t>(op.ns)];
    const double r = rng.NextDouble();
    op.key = "u" + suffix;
    if (guest_phase && r < 0.05 && session.ops > session.ops_max / 3) {
      session.merged[static_cast<size_t>(op.ns)] = true;
      op.kind = OpKind::kMergeGuest;
      op.guest_key = "g" + suffix;
      op.strategy = static_cast<GuestMergeStrategy>(rng.Uniform(3));
      ++w.stats_.merges;
      return RunOp();
    }
    if (guest_phase && r < 0.3) op.key = "g" + suffix;
    const double k = rng.NextDouble();
    if (k < 0.25) {
      op.kind = OpKind::kGet;
      ++w.stats_.gets;
      return RunOp();
    }
    ++w.stats_.mutations;
    const std::string sku = "sku-" + std::to_string(rng.Uniform(w.config_.skus) + 1);
    const uint64_t id = NewMutationId();
    const uint64_t now = NowWallMs();
    if (k < 0.68) {
      op.m = Mutation::Add(id, sku, static_cast<uint32_t>(rng.Range(1, 3)), now);
    } else if (k < 0.80) {
      op.m = Mutation::SetQuantity(id, sku, static_cast<uint32_t>(rng.Range(0, 4)), now);
    } else if (k < 0.94 || (k < 0.97 && Ns(op.ns).semantics != CartSemantics::kOrSet)) {
      op.m = Mutation::Remove(id, sku, now);
    } else if (k < 0.97) {
      // A checkout (CartClient::Checkout): the clear of this device's view
      // under the order's id, not a session's.
      op.order_id = Name() + "/order-" + std::to_string(++orders);
      op.m = Mutation::Clear(CheckoutMutationId(Ns(op.ns).name, op.key, op.order_id), now);
      ++w.stats_.checkouts;
    } else {
      op.m = Mutation::Clear(id, now);
    }
    RunOp();
  }
};

Workload::Workload(const SeedConfig& config, EventLoop& loop, Trace& trace, Cluster& cluster,
                   History& history)
    : config_(config), loop_(loop), trace_(trace), cluster_(cluster), history_(history) {
  int index = 0;
  for (uint32_t s = 0; s < config.shoppers; ++s) {
    for (uint32_t d = 0; d < config.devices_per_shopper; ++d) {
      auto dev = std::make_unique<Device>(*this, static_cast<int>(d), static_cast<int>(s),
                                          SubSeed(config.seed, 100 + static_cast<uint64_t>(index)));
      dev->conn = static_cast<uint64_t>(index) + 1;
      dev->down_until_ns.assign(static_cast<size_t>(cluster.size()), 0);
      devices_.push_back(std::move(dev));
      ++index;
    }
  }
  sessions_.resize(config.shoppers);
  session_rng_ = std::make_unique<Random>(SubSeed(config.seed, 99));
  for (uint32_t s = 0; s < config.shoppers; ++s) {
    sessions_[s].number = 0;
    NewSession(static_cast<int>(s));
  }
}

void Workload::NewSession(int shopper) {
  Session& s = sessions_[static_cast<size_t>(shopper)];
  ++s.number;
  s.ops = 0;
  s.ops_max = static_cast<uint32_t>(session_rng_->Range(10, 80));
  s.merged.assign(config_.namespaces.size(), false);
}

Workload::~Workload() = default;

void Workload::Start(uint64_t stop_ns) {
  stop_ns_ = stop_ns;
  for (auto& d : devices_) {
    Device* dev = d.get();
    loop_.After(dev->rng.Range(0, 100) * kNsPerMs, [dev] { dev->NextOp(); });
  }
}

bool Workload::Idle() const {
  return std::none_of(devices_.begin(), devices_.end(),
                      [](const auto& d) { return d->busy || d->call.active; });
}

std::vector<ObjectKey> Workload::Keys() const {
  std::vector<ObjectKey> keys;
  for (const auto& [key, h] : history_.carts()) keys.push_back(key);
  return keys;
}

void Workload::Deliver(uint64_t conn, Message m) {
  if (conn == 0 || conn > devices_.size()) return;
  Device& d = *devices_[conn - 1];
  trace_.Event(kTraceClientReply, conn, m.index(), ReplyId(m));
  d.OnMessage(std::move(m));
}

void Workload::ConnectionFailed(uint64_t conn, int node) {
  if (conn == 0 || conn > devices_.size()) return;
  devices_[conn - 1]->OnConnectionFailed(node);
}

void Workload::NodeCrashed(int node) {
  // Every connection to the node is reset: requests in flight on them fail.
  for (auto& d : devices_) {
    if (!d->call.active || d->call.request_id == 0 || d->call.node != node) continue;
    Device* dev = d.get();
    const uint64_t id = dev->call.request_id;
    loop_.After(50 * kNsPerUs, [dev, id, node] {
      if (dev->call.active && dev->call.request_id == id) dev->OnConnectionFailed(node);
    });
  }
}

}  // namespace trolley::sim
