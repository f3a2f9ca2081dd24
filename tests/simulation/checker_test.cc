// Goal: the History checkers (simulation/checker.h) flag exactly what they
// claim: a lost acknowledged add, an OR-Set remove undone, a checked-out
// contribution back (and bought tags a later read shows, counted); union+max
// resurrections and lost increments are counted, not failed; removes that
// observed an add excuse its absence; a flush-window loss is excused only
// while the mutation was never durable anywhere.
// Method: hand-made histories: a device reads a CartState, the history
// records what it observed, and a chosen final cart is checked.
#include "simulation/checker.h"

#include <gtest/gtest.h>

namespace trolley::sim {
namespace {

const ObjectKey kCart{"or-carts", "u1"};
const ObjectKey kUmCart{"carts", "u1"};
const CartLimits kLimits{};

// Applies `m` to `state` the way a device does: observe, apply, write, ack.
void Do(History& h, const ObjectKey& key, CartState& state, const Mutation& m, bool acked = true) {
  const uint32_t attempt = h.Observe(key, state.semantics(), m, state);
  ASSERT_TRUE(state.Apply(m, kLimits).ok());
  h.Written(key, m.id, attempt);
  if (acked) h.Acked(key, m.id, attempt);
}

// The history of cart `key` whose device `device` added an apple as
// mutation 11 (acknowledged unless `acked` is false).
History AppleAdded(const ObjectKey& key, CartState& device, bool acked = true) {
  History h;
  Do(h, key, device, Mutation::Add(11, "apple", 1, 1), acked);
  return h;
}

// What History::Check finds in `final_cart` of `key`.
CheckResult CheckOf(const History& h, const ObjectKey& key, const CartState& final_cart) {
  CheckResult result;
  h.Check(key, final_cart, result);
  return result;
}

TEST(CheckerTest, OrSetLostAddFails) {
  CartState device(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, device);
  const CheckResult r = CheckOf(h, kCart, CartState(CartSemantics::kOrSet));
  EXPECT_EQ(r.acked_adds, 1u);
  EXPECT_EQ(r.lost_adds, 1u);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].find("lost"), std::string::npos);

  const CheckResult kept = CheckOf(h, kCart, device);
  EXPECT_TRUE(kept.failures.empty());
}

TEST(CheckerTest, OrSetObservedRemoveExcusesTheAddAndMustNotBeUndone) {
  CartState a(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, a);
  CartState before_remove = a;
  Do(h, kCart, a, Mutation::Remove(12, "apple", 2));
  const CheckResult r = CheckOf(h, kCart, a);  // apple gone: the remove observed it
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.lost_adds, 0u);

  const CheckResult undone = CheckOf(h, kCart, before_remove);  // apple's tag live again
  EXPECT_EQ(undone.removes_undone, 1u);
  ASSERT_FALSE(undone.failures.empty());
  EXPECT_NE(undone.failures[0].find("undone"), std::string::npos);
}

// A checkout as the simulator's devices send it: a clear carrying the tags
// of the device's view, marked as a checkout.
Mutation CheckoutOf(uint64_t id, const CartState& view) {
  Mutation m = Mutation::Clear(id, 5);
  m.observed = view.ObservedTags(nullptr);
  return m;
}

// The history of a device that added an apple (11) and a pear (13), then
// checked both out (15, acknowledged); `before_checkout` is its view then.
History AppleAndPearCheckedOut(CartState& device, CartState& before_checkout) {
  History h = AppleAdded(kCart, device);
  Do(h, kCart, device, Mutation::Add(13, "pear", 2, 2));
  before_checkout = device;
  Do(h, kCart, device, CheckoutOf(15, device));
  h.MarkCheckout(kCart, 15);
  return h;
}

TEST(CheckerTest, OrSetCheckoutFailsWhenABoughtTagIsLiveAgain) {
  CartState a(CartSemantics::kOrSet), before_checkout(CartSemantics::kOrSet);
  const History h = AppleAndPearCheckedOut(a, before_checkout);

  const CheckResult bought = CheckOf(h, kCart, a);  // both lines gone
  EXPECT_TRUE(bought.failures.empty()) << bought.failures.front();
  EXPECT_EQ(bought.checkouts_acked, 1u);
  EXPECT_EQ(bought.checkouts_back, 0u);
  EXPECT_EQ(bought.lost_adds, 0u);

  const CheckResult back = CheckOf(h, kCart, before_checkout);  // apple and pear live again
  EXPECT_EQ(back.checkouts_back, 2u);
  EXPECT_EQ(back.removes_undone, 0u) << "a checkout is counted apart from removes";
  ASSERT_EQ(back.failures.size(), 2u);
  EXPECT_NE(back.failures[0].find("checked-out contribution back"), std::string::npos);
}

TEST(CheckerTest, OrSetAddTheCheckoutDidNotSeeStaysAndIsNoCheckoutBack) {
  CartState a(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, a);
  CartState other = a;
  Do(h, kCart, a, CheckoutOf(15, a));
  h.MarkCheckout(kCart, 15);
  Do(h, kCart, other, Mutation::Add(17, "apple", 1, 6));  // concurrent with the checkout
  const CartState siblings[] = {a, other};
  const CartState merged = CartState::Merge(CartSemantics::kOrSet, siblings);
  ASSERT_TRUE(merged.HasLiveTag(17));
  ASSERT_FALSE(merged.HasLiveTag(11));
  const CheckResult r = CheckOf(h, kCart, merged);
  EXPECT_TRUE(r.failures.empty()) << r.failures.front();
  EXPECT_EQ(r.checkouts_back, 0u);

  const CheckResult lost = CheckOf(h, kCart, a);  // the later add is not bought: it must stay
  EXPECT_EQ(lost.lost_adds, 1u);
  EXPECT_EQ(lost.checkouts_back, 0u);
}

// A checkout the shopper was never told succeeded bought nothing for sure:
// its tags live again are no failure (it may not have landed), but its
// write excuses the adds it observed.
TEST(CheckerTest, OrSetUnacknowledgedCheckoutIsNoCheckoutBack) {
  CartState a(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, a);
  const CartState before_checkout = a;
  Do(h, kCart, a, CheckoutOf(15, a), /*acked=*/false);
  h.MarkCheckout(kCart, 15);
  const CheckResult kept = CheckOf(h, kCart, before_checkout);
  EXPECT_TRUE(kept.failures.empty()) << kept.failures.front();
  EXPECT_EQ(kept.checkouts_acked, 0u);
  const CheckResult gone = CheckOf(h, kCart, a);
  EXPECT_TRUE(gone.failures.empty()) << gone.failures.front();
}

// A read started after the checkout's ack that still shows a bought tag is
// counted (a stale read, reported); one started before it is not.
TEST(CheckerTest, OrSetReadsStartedAfterTheCheckoutAckCountBoughtTags) {
  CartState a(CartSemantics::kOrSet), before_checkout(CartSemantics::kOrSet);
  History h = AppleAndPearCheckedOut(a, before_checkout);
  h.CheckoutAcked(kCart, 15, /*now_ns=*/1000);
  EXPECT_EQ(h.NoteRead(kCart, before_checkout, /*started_ns=*/999), 0u) << "began before the ack";
  EXPECT_EQ(h.NoteRead(kCart, a, 2000), 0u);
  EXPECT_EQ(h.NoteRead(kCart, before_checkout, 2000), 2u);
  EXPECT_EQ(h.NoteRead(kUmCart, before_checkout, 2000), 0u) << "another cart";
  EXPECT_EQ(h.bought_read_again(), 2u);
}

TEST(CheckerTest, OrSetConcurrentAddSurvivesARemoveThatDidNotSeeIt) {
  CartState a(CartSemantics::kOrSet), b(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, a);
  CartState stale = a;
  Do(h, kCart, a, Mutation::Remove(12, "apple", 2));
  Do(h, kCart, stale, Mutation::Add(13, "apple", 2, 3));  // concurrent with the remove
  const CartState siblings[] = {a, stale};
  const CartState merged = CartState::Merge(CartSemantics::kOrSet, siblings);
  const CheckResult r = CheckOf(h, kCart, merged);
  EXPECT_TRUE(r.failures.empty()) << r.failures.front();
  const CheckResult lost = CheckOf(h, kCart, a);  // add 13 missing, and no remove observed it
  EXPECT_EQ(lost.lost_adds, 1u);
}

TEST(CheckerTest, UnionMaxResurrectionsAndLostIncrementsAreCountedNotFailed) {
  CartState base(CartSemantics::kUnionMax);
  History h = AppleAdded(kUmCart, base);
  CartState one = base, two = base;
  Do(h, kUmCart, one, Mutation::Add(12, "apple", 1, 2));  // two concurrent "+1"s
  Do(h, kUmCart, two, Mutation::Add(13, "apple", 1, 2));
  const CartState both[] = {one, two};
  const CheckResult collapse =
      CheckOf(h, kUmCart, CartState::Merge(CartSemantics::kUnionMax, both));
  EXPECT_TRUE(collapse.failures.empty());
  EXPECT_EQ(collapse.lost_increments, 1u) << "3 acked, 2 kept";

  // A remove that saw every add of the line, concurrent with a sibling that
  // still holds it: the merge brings it back.
  History r;
  CartState x(CartSemantics::kUnionMax);
  Do(r, kUmCart, x, Mutation::Add(21, "pear", 1, 1));
  CartState old = x;
  Do(r, kUmCart, x, Mutation::Remove(22, "pear", 2));
  const CartState siblings[] = {x, old};
  const CheckResult back =
      CheckOf(r, kUmCart, CartState::Merge(CartSemantics::kUnionMax, siblings));
  EXPECT_TRUE(back.failures.empty());
  EXPECT_EQ(back.resurrections, 1u);
}

TEST(CheckerTest, UnionMaxLostLineFails) {
  CartState a(CartSemantics::kUnionMax);
  History h = AppleAdded(kUmCart, a);
  const CheckResult r = CheckOf(h, kUmCart, CartState(CartSemantics::kUnionMax));
  EXPECT_EQ(r.lost_adds, 1u);
}

TEST(CheckerTest, ARetriedRemoveSurelyDidOnlyWhatItsAcknowledgedAttemptObserved) {
  // Attempt 1 of a clear observed apple and may or may not have landed;
  // attempt 2 read a stale replica (empty), cleared nothing and was acked.
  CartState a(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, a);
  CartState first = a;
  const Mutation clear = Mutation::Clear(12, 2);
  const uint32_t one = h.Observe(kCart, CartSemantics::kOrSet, clear, first);
  h.Written(kCart, 12, one);  // timed out
  CartState stale(CartSemantics::kOrSet);
  const uint32_t two = h.Observe(kCart, CartSemantics::kOrSet, clear, stale);
  ASSERT_TRUE(stale.Apply(clear, kLimits).ok());
  h.Written(kCart, 12, two);
  h.Acked(kCart, 12, two);
  const CartState both[] = {a, stale};
  const CheckResult r = CheckOf(h, kCart, CartState::Merge(CartSemantics::kOrSet, both));
  EXPECT_TRUE(r.failures.empty()) << "apple surviving is OR-Set semantics: " << r.failures.front();
  ASSERT_TRUE(first.Apply(clear, kLimits).ok());
  const CheckResult gone = CheckOf(h, kCart, first);  // attempt 1 landed after all: apple may go
  EXPECT_TRUE(gone.failures.empty());
}

TEST(CheckerTest, UnacknowledgedMutationsMayBeLost) {
  CartState a(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, a, /*acked=*/false);
  const CheckResult r = CheckOf(h, kCart, CartState(CartSemantics::kOrSet));
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.acked_adds, 0u);
}

TEST(CheckerTest, FlushWindowExcuseOnlyForMutationsAPowerLossTookFromTheLastDisk) {
  CartState a(CartSemantics::kOrSet);
  History h = AppleAdded(kCart, a);
  Do(h, kCart, a, Mutation::Add(12, "pear", 1, 2));
  h.NoteLostToPowerLoss(kCart, 11);
  const CheckResult r = CheckOf(h, kCart, CartState(CartSemantics::kOrSet));
  EXPECT_EQ(r.lost_unsynced, 1u);
  EXPECT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.lost_adds, 1u) << "pear was on some disk after every power loss";
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].find("pear"), std::string::npos);
}

}  // namespace
}  // namespace trolley::sim
