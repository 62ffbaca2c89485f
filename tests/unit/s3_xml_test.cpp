#include "../../src/storage/s3/s3_xml.hpp"

#include <gtest/gtest.h>

using namespace berth::storage::s3;

TEST(s3_xml, finds_elements_by_name_not_by_prefix) {
  const std::string doc =
      "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a&amp;b</Key><Size>3</Size></Contents><ContentsX>no</ContentsX>"
      "<Contents><Key>c</Key><Size>4</Size><Owner/></Contents></ListBucketResult>";
  auto items = xml_elements(doc, "Contents");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(xml_text(items[0], "Key"), "a&b");
  EXPECT_EQ(xml_text(items[1], "Size"), "4");
  EXPECT_EQ(xml_text(items[1], "Owner"), "");
  EXPECT_EQ(xml_text(doc, "Missing"), std::nullopt);
  EXPECT_EQ(xml_text(doc, "IsTruncated"), "false");
}

TEST(s3_xml, unescapes_entities_and_leaves_the_unknown_alone) {
  EXPECT_EQ(xml_unescape("&quot;etag&quot; &lt;&gt; &#65;&#x42; &bogus; &"), "\"etag\" <> AB &bogus; &");
  EXPECT_EQ(xml_unescape(xml_escape("<a href='x'>&</a>")), "<a href='x'>&</a>");
}

TEST(s3_xml, truncated_documents_yield_what_is_whole) {
  EXPECT_TRUE(xml_elements("<Key>abc", "Key").empty());
  EXPECT_TRUE(xml_elements("<Key", "Key").empty());
  EXPECT_EQ(xml_elements("<Key>a</Key><Key>b", "Key").size(), 1u);
}
