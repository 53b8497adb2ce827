#include <dialtone/view/pager.h>

#include <gtest/gtest.h>

namespace dialtone::plugins::view {
namespace {

// A document of fixed-size parts, so page boundaries are easy to predict.
class Fixed final : public PageTemplate {
 public:
  std::string head(const PageInfo& p) const override { return std::string(10, 'h'); }
  std::string item(const sdk::PhoneEntry& e) const override { return std::string(20, 'i'); }
  std::string tail(const PageInfo& p) const override {
    return std::string(10 + (p.prev ? 5 : 0) + (p.next ? 5 : 0), 't');
  }
};

std::vector<sdk::PhoneEntry> entries(std::size_t n) {
  return std::vector<sdk::PhoneEntry>(n, sdk::PhoneEntry{"n", "1"});
}

TEST(ViewPager, FillsUpToTheByteBudget) {
  // 10 + 4*20 + 15 = 105 fits 110; a fifth item would not.
  auto page = render_page(Fixed(), {110, 100}, entries(10), 0);
  EXPECT_EQ(page.info.end, 4u);
  EXPECT_EQ(page.info.next, 4u);
  EXPECT_FALSE(page.info.prev);
  EXPECT_LE(page.body.size(), 110u);
}

TEST(ViewPager, LastPageUsesTheRoomOfTheMissingNextLink) {
  // Offset 4: head 10 + prev 15 tail... 3 items + next = 10+60+20 = 90;
  // all 4 remaining without next = 10+80+15 = 105 <= 110.
  auto page = render_page(Fixed(), {110, 100}, entries(8), 4);
  EXPECT_EQ(page.info.end, 8u);
  EXPECT_FALSE(page.info.next);
  EXPECT_EQ(page.info.prev, 0u);
}

TEST(ViewPager, ItemLimitWinsOverBytes) {
  auto page = render_page(Fixed(), {100000, 3}, entries(10), 3);
  EXPECT_EQ(page.info.begin, 3u);
  EXPECT_EQ(page.info.end, 6u);
  EXPECT_EQ(page.info.prev, 0u);
  EXPECT_EQ(page.info.next, 6u);
}

TEST(ViewPager, PreviousOfAnUnalignedOffsetIsThePageHoldingIt) {
  auto page = render_page(Fixed(), {100000, 3}, entries(10), 4);
  EXPECT_EQ(page.info.prev, 3u);
}

}  // namespace
}  // namespace dialtone::plugins::view
