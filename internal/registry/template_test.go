package registry

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestTemplateIndex: the table of template.yaml has the index CreateTable
// creates, projecting IndexAttributes.
func TestTemplateIndex(t *testing.T) {
	data, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				GlobalSecondaryIndexes []struct {
					IndexName  string `yaml:"IndexName"`
					Projection struct {
						ProjectionType   string   `yaml:"ProjectionType"`
						NonKeyAttributes []string `yaml:"NonKeyAttributes"`
					} `yaml:"Projection"`
				} `yaml:"GlobalSecondaryIndexes"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	table := doc.Resources["Table"]
	if table.Type != "AWS::DynamoDB::Table" || len(table.Properties.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("template.yaml: resource Table %+v, want a table with one index", table)
	}
	ix := table.Properties.GlobalSecondaryIndexes[0]
	if ix.IndexName != ActiveIndex || ix.Projection.ProjectionType != "INCLUDE" || !slices.Equal(ix.Projection.NonKeyAttributes, IndexAttributes) {
		t.Errorf("template.yaml: index %s projecting %s %v; want %s projecting INCLUDE %v",
			ix.IndexName, ix.Projection.ProjectionType, ix.Projection.NonKeyAttributes, ActiveIndex, IndexAttributes)
	}
}
