#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fields.h"
#include "catalog/alert_catalogue.h"
#include "catalog/areas.h"
#include "catalog/inventory.h"
#include "testing/fixtures.h"

namespace smetsmon::catalog {
namespace {

using ::testing::HasSubstr;

TEST(AreaTableTest, ShippedTableHasTheFourteenGbAreas) {
  auto t = AreaTable::Load(testing::ConfigDir() + "/areas.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size(), 14u);
  const AreaId north_west = t->ByDistributorId(16);
  ASSERT_NE(north_west, kUnknownArea);
  EXPECT_EQ(t->area(north_west).name, "North West");
  EXPECT_EQ(t->ByGspGroup('G'), north_west);
  EXPECT_EQ(t->Label(north_west), "north_west");
  EXPECT_EQ(t->RegionLabel(t->RegionOf(north_west)), "north");
  EXPECT_EQ(t->RegionLabel(t->RegionOf(t->ByDistributorId(21))), "central");  // Wales is Central
  EXPECT_EQ(t->ByDistributorId(27), kUnknownArea);                            // IDNO
  EXPECT_EQ(t->Label(kUnknownArea), "unknown");
  EXPECT_EQ(t->Slot(kUnknownArea), 14u);
  EXPECT_EQ(t->FromSlot(14), kUnknownArea);
}

TEST(AreaTableTest, ErrorsNameFileLineAndField) {
  const std::string path = testing::TempPath("areas.yaml");
  testing::WriteFile(
      path,
      "regions: [north]\n"
      "areas:\n"
      "  - {distributor_id: 10, gsp_group: _A, name: Eastern, dno_group: X, region: north}\n"
      "  - {distributor_id: 11, gsp_group: _B, name: EM, dno_group: X, region: south}\n");
  auto t = AreaTable::Load(path);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(path + ":4: field 'region'"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("south"));
}

TEST(AreaTableTest, DuplicatesAndSyntaxErrorsFail) {
  const std::string path = testing::TempPath("areas.yaml");
  testing::WriteFile(
      path,
      "regions: [north]\nareas:\n"
      "  - {distributor_id: 10, gsp_group: _A, name: A, dno_group: X, region: north}\n"
      "  - {distributor_id: 10, gsp_group: _B, name: B, dno_group: X, region: north}\n");
  auto dup = AreaTable::Load(path);
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("listed twice"));
  testing::WriteFile(path, "regions: [north\nareas: {");
  auto syntax = AreaTable::Load(path);
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(std::string(syntax.status().message()), HasSubstr("YAML syntax error"));
  auto missing = AreaTable::Load(path + ".absent");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(AlertCatalogueTest, ShippedCatalogueMapsCodesToSlotsAndCategories) {
  auto c = AlertCatalogue::Load(testing::ConfigDir() + "/alert_catalogue.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const CodeSlot s8f40 = c->SlotOf(*ParseAlertCode("8F40"));
  ASSERT_NE(s8f40, c->other_slot());
  EXPECT_EQ(c->categories()[c->CategoryOfSlot(s8f40)], "voltage");
  const CodeSlot ad1 = c->SlotOf(*ParseAlertCode("AD1"));
  ASSERT_NE(ad1, c->other_slot());
  EXPECT_EQ(c->categories()[c->CategoryOfSlot(ad1)], "outage.start");
  EXPECT_EQ(c->priorities()[c->InfoOfSlot(ad1)->priority], "critical");
  EXPECT_EQ(c->SlotLabel(ad1), "AD1");
  // Unlisted device and DCC codes fall into "other".
  EXPECT_EQ(c->SlotOf(*ParseAlertCode("8F99")), c->other_slot());
  EXPECT_EQ(c->SlotOf(*ParseAlertCode("N24")), c->other_slot());
  EXPECT_EQ(c->categories()[c->CategoryOfSlot(c->other_slot())], "other");
  EXPECT_EQ(c->SlotLabel(c->other_slot()), "other");
}

TEST(AlertCatalogueTest, SetAndClearPairsAreLinked) {
  auto c = AlertCatalogue::Load(testing::ConfigDir() + "/alert_catalogue.yaml");
  ASSERT_TRUE(c.ok());
  const AlertInfo* set = c->InfoOfSlot(c->SlotOf(*ParseAlertCode("8002")));
  const AlertInfo* clear = c->InfoOfSlot(c->SlotOf(*ParseAlertCode("8085")));
  ASSERT_NE(set, nullptr);
  ASSERT_NE(clear, nullptr);
  EXPECT_EQ(set->clears, clear->code);
  EXPECT_TRUE(clear->is_clear);
  EXPECT_FALSE(set->is_clear);
}

TEST(AlertCatalogueTest, BadEntriesAreConfigErrors) {
  const std::string path = testing::TempPath("cat.yaml");
  const std::string head = "categories: [voltage]\npriorities: [high, low]\nalerts:\n";
  testing::WriteFile(path, head + "  - {code: \"8F4\", name: x, category: voltage}\n");
  EXPECT_THAT(std::string(AlertCatalogue::Load(path).status().message()),
              HasSubstr(":4: field 'code' is not an alert code"));
  testing::WriteFile(path, head + "  - {code: \"8F40\", name: x, category: nope}\n");
  EXPECT_THAT(std::string(AlertCatalogue::Load(path).status().message()),
              HasSubstr("field 'category'"));
  testing::WriteFile(path,
                     head + "  - {code: \"8F40\", name: x, category: voltage, priority: mid}\n");
  EXPECT_THAT(std::string(AlertCatalogue::Load(path).status().message()),
              HasSubstr("field 'priority'"));
  testing::WriteFile(path, head +
                               "  - {code: \"8F40\", name: x, category: voltage}\n"
                               "  - {code: \"8f40\", name: y, category: voltage}\n");
  EXPECT_THAT(std::string(AlertCatalogue::Load(path).status().message()), HasSubstr("twice"));
  testing::WriteFile(
      path, head + "  - {code: \"8002\", name: x, category: voltage, clear_code: \"8085\"}\n");
  EXPECT_THAT(std::string(AlertCatalogue::Load(path).status().message()),
              HasSubstr("no entry of its own"));
  testing::WriteFile(path, head + "  - {code: \"8002\", category: voltage}\n");
  EXPECT_THAT(std::string(AlertCatalogue::Load(path).status().message()),
              HasSubstr("field 'name' is required"));
}

// A reload takes the new entries in the running slots; what changes the window layout is refused.
TEST(AlertCatalogueTest, ReloadKeepsTheRunningSlotsAndRefusesLayoutChanges) {
  const std::string path = testing::TempPath("reload_cat.yaml");
  const std::string head = "categories: [voltage, power, firmware]\npriorities: [high, low]\n";
  testing::WriteFile(path, head +
                               "alerts:\n"
                               "  - {code: \"8F40\", name: Voltage, category: voltage}\n"
                               "  - {code: \"8014\", name: PF low, category: power, priority: low,"
                               " clear_code: \"8015\"}\n"
                               "  - {code: \"8015\", name: PF ok, category: power}\n"
                               "  - {code: \"AD1\", name: Outage, category: power}\n");
  auto running = AlertCatalogue::Load(path);
  ASSERT_TRUE(running.ok()) << running.status();
  const auto code = [](const char* text) { return *ParseAlertCode(text); };

  // Listed in another order, renamed, another priority, no clear pair: applied in the running
  // slots, and exactly the changed codes are named.
  testing::WriteFile(path, head +
                               "alerts:\n"
                               "  - {code: \"AD1\", name: Outage, category: power}\n"
                               "  - {code: \"8015\", name: PF ok, category: power}\n"
                               "  - {code: \"8014\", name: PF below threshold, category: power,"
                               " priority: high}\n"
                               "  - {code: \"8F40\", name: Voltage, category: voltage}\n");
  auto candidate = AlertCatalogue::Load(path);
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  ASSERT_NE(candidate->SlotOf(code("8F40")), running->SlotOf(code("8F40")));
  auto reindexed = candidate->ReindexedLike(*running);
  ASSERT_TRUE(reindexed.ok()) << reindexed.status();
  for (const char* c : {"8F40", "8014", "8015", "AD1", "8F99"}) {
    EXPECT_EQ(reindexed->SlotOf(code(c)), running->SlotOf(code(c))) << c;
  }
  const AlertInfo* pf = reindexed->InfoOfSlot(running->SlotOf(code("8014")));
  ASSERT_NE(pf, nullptr);
  EXPECT_EQ(pf->code, code("8014"));
  EXPECT_EQ(pf->name, "PF below threshold");
  EXPECT_EQ(reindexed->priorities()[pf->priority], "high");
  EXPECT_EQ(pf->clears, AlertCode{0});
  EXPECT_EQ(reindexed->InfoOfSlot(running->SlotOf(code("AD1")))->name, "Outage");
  EXPECT_THAT(AlertCatalogue::ChangedCodes(*running, *reindexed),
              ::testing::UnorderedElementsAre("8014", "8015"));  // 8015 no longer a clear
  EXPECT_TRUE(AlertCatalogue::ChangedCodes(*running, *running).empty());

  // Added and removed codes, a code in another category, another category list: refused, each
  // named.
  const auto refused = [&](const std::string& body) {
    testing::WriteFile(path, body);
    auto c = AlertCatalogue::Load(path);
    EXPECT_TRUE(c.ok()) << c.status();
    auto r = c->ReindexedLike(*running);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    return std::string(r.status().message());
  };
  const std::string changed = refused(head +
                                      "alerts:\n"
                                      "  - {code: \"8F40\", name: Voltage, category: power}\n"
                                      "  - {code: \"8014\", name: PF low, category: power}\n"
                                      "  - {code: \"8015\", name: PF ok, category: power}\n"
                                      "  - {code: \"8F72\", name: FW, category: firmware}\n");
  EXPECT_THAT(changed, HasSubstr("needs a restart"));
  EXPECT_THAT(changed, HasSubstr("moving 8F40 from voltage to power"));
  EXPECT_THAT(changed, HasSubstr("adding 8F72"));
  EXPECT_THAT(changed, HasSubstr("removing AD1"));
  EXPECT_THAT(refused("categories: [voltage, power, firmware, security]\npriorities: [high, low]\n"
                      "alerts:\n"
                      "  - {code: \"8F40\", name: Voltage, category: voltage}\n"
                      "  - {code: \"8014\", name: PF low, category: power}\n"
                      "  - {code: \"8015\", name: PF ok, category: power}\n"
                      "  - {code: \"AD1\", name: Outage, category: power}\n"),
              HasSubstr("the category list"));
}

class InventoryTest : public ::testing::Test {
 protected:
  InventoryTest() : ref_(testing::LoadTestReference()) {}
  catalog::ReferenceData ref_;
};

TEST_F(InventoryTest, LoadsRowsEnrichmentAndInstallCounts) {
  const std::string path = testing::TempPath("inv.csv");
  testing::WriteFile(path,
                     "device_id,mpxn,gsp_group,smets,dmc,cohort,installed_on\n"
                     "00-DB-00-00-00-00-00-01,1612345678900,,1,MDS-ELSTER-A1140,MOC,2021-03-04\n"
                     "00-DB-00-00-00-00-00-02,2712345678908,_C,2,,,2022-01-01\r\n"
                     "00-DB-00-00-00-00-00-03,,,1,MDS-ELSTER-A1140,IOC,\n"
                     "not-a-device,1612345678900,,1,,,\n"
                     "00-DB-00-00-00-00-00-04,1612345678901,,1,,,\n"
                     "00-DB-00-00-00-00-00-05,,,7,,,\n"
                     "00-DB-00-00-00-00-00-06,,,1\n");
  Inventory inv(*ref_.areas, *ref_.dmcs, *ref_.cohorts);
  ASSERT_TRUE(inv.LoadCsv(path).ok());
  EXPECT_EQ(inv.size(), 3u);
  EXPECT_EQ(inv.stats().rows, 3u);
  EXPECT_EQ(inv.stats().bad_rows, 4u);
  EXPECT_EQ(inv.stats().first_bad_line, 5u);
  const InventoryRecord* r1 = inv.Find(*ParseDeviceId("00-DB-00-00-00-00-00-01"));
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->area, ref_.areas->ByDistributorId(16));
  EXPECT_EQ(r1->generation, Generation::kSmets1);
  EXPECT_EQ(ref_.dmcs->Name(r1->dmc.value), "MDS-ELSTER-A1140");
  EXPECT_EQ(r1->installed_day, *ParseIsoDate("2021-03-04"));
  const InventoryRecord* r2 = inv.Find(*ParseDeviceId("00-DB-00-00-00-00-00-02"));
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(r2->area, ref_.areas->ByGspGroup('C'));
  EXPECT_EQ(inv.installs_by_area()[ref_.areas->Slot(ref_.areas->ByDistributorId(16))], 1u);
  EXPECT_EQ(inv.installs_by_area()[ref_.areas->Slot(kUnknownArea)], 1u);
  EXPECT_EQ(inv.installs_by_generation(Generation::kSmets1), 2u);
  EXPECT_EQ(inv.installs_by_generation(Generation::kSmets2), 1u);
  EXPECT_EQ(inv.installs_by_dmc()[ref_.dmcs->Find("MDS-ELSTER-A1140")], 2u);
  EXPECT_EQ(inv.installs_by_cohort()[ref_.cohorts->Find("MOC")], 1u);
}

TEST_F(InventoryTest, ALaterRowReplacesAnEarlierOneInTheCounts) {
  Inventory inv(*ref_.areas, *ref_.dmcs, *ref_.cohorts);
  InventoryRecord a;
  a.generation = Generation::kSmets1;
  InventoryRecord b;
  b.generation = Generation::kSmets2;
  inv.Add(DeviceId{7}, a);
  inv.Add(DeviceId{7}, b);
  EXPECT_EQ(inv.size(), 1u);
  EXPECT_EQ(inv.stats().duplicate_rows, 1u);
  EXPECT_EQ(inv.installs_by_generation(Generation::kSmets1), 0u);
  EXPECT_EQ(inv.installs_by_generation(Generation::kSmets2), 1u);
}

TEST_F(InventoryTest, WrongHeaderOrMissingFileIsAnError) {
  const std::string path = testing::TempPath("inv.csv");
  testing::WriteFile(path, "id,mpan\n00-DB-00-00-00-00-00-01,1612345678900\n");
  Inventory inv(*ref_.areas, *ref_.dmcs, *ref_.cohorts);
  const absl::Status s = inv.LoadCsv(path);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(":1: inventory header must be"));
  EXPECT_EQ(inv.LoadCsv(path + ".absent").code(), absl::StatusCode::kNotFound);
}

TEST(SymbolTableTest, InternsWithinCapacityThenOverflows) {
  SymbolTable t("dmc", 2);
  EXPECT_EQ(t.Intern(""), SymbolTable::kNone);
  const uint16_t a = t.Intern("A");
  EXPECT_EQ(t.Intern("A"), a);
  const uint16_t b = t.Intern("B");
  EXPECT_NE(a, b);
  EXPECT_EQ(t.Intern("C"), SymbolTable::kOverflow);
  EXPECT_EQ(t.overflowed(), 1u);
  EXPECT_EQ(t.Name(a), "A");
  EXPECT_EQ(t.Name(SymbolTable::kOverflow), "other");
  SymbolCache cache(t);
  EXPECT_EQ(cache.Intern("B"), b);
  EXPECT_EQ(cache.Intern("D"), SymbolTable::kOverflow);
  EXPECT_EQ(t.size(), 2u);
}

TEST(SymbolTableTest, CacheGivesTheTablesIdsForManyLabelsSharingItsRecentSlots) {
  // 300 labels over 64 recent slots: every slot is shared and overwritten, and labels of one
  // length with the same first and last eight bytes differ only in the middle.
  SymbolTable t("dmc", 400);
  SymbolCache cache(t);
  std::vector<std::string> labels;
  for (int i = 0; i < 300; ++i) {
    labels.push_back(i % 2 ? "SECURE-LIBERTY-" + std::to_string(i) + "-OPS"
                           : "DMC-" + std::to_string(i) + "-ELSTER-A1140");
  }
  labels.push_back("A");
  labels.push_back("AB");
  for (int round = 0; round < 3; ++round) {
    for (const std::string& label : labels) {
      const uint16_t id = cache.Intern(label);
      ASSERT_GE(id, 2);
      EXPECT_EQ(t.Name(id), label);
      EXPECT_EQ(t.Find(label), id);
    }
  }
  EXPECT_EQ(t.size(), labels.size());
  EXPECT_EQ(cache.Intern(""), SymbolTable::kNone);
}

}  // namespace
}  // namespace smetsmon::catalog
