package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files says where WriteFiles writes.
type Files struct {
	// Markdown is the path of the document (BENCHMARKS.md).
	Markdown string
	// PlotDir is the directory of the plots, created if missing.
	PlotDir string
	// Command is the command line shown in the document's header.
	Command string
}

// WriteFiles writes the report as a Markdown document and its plots: one
// SVG per scenario, named after it, and SummaryPlot. The document shows
// TickFile of the plot directory when there is one. The document links
// the plots by their path relative to it. The report must come from a
// suite that ran the tuner.
func WriteFiles(rep Report, f Files) error {
	for _, sr := range rep.Scenarios {
		if sr.plotTuner == nil || sr.plotOracle == nil {
			return fmt.Errorf("bench: write files: scenario %s has no tuner run to plot", sr.Name)
		}
	}
	rel, err := filepath.Rel(filepath.Dir(f.Markdown), f.PlotDir)
	if err != nil {
		return fmt.Errorf("bench: write files: plot directory: %w", err)
	}
	if err := os.MkdirAll(f.PlotDir, 0o755); err != nil {
		return fmt.Errorf("bench: write files: %w", err)
	}
	for _, sr := range rep.Scenarios {
		if err := os.WriteFile(filepath.Join(f.PlotDir, sr.Name+".svg"), scenarioPlot(sr), 0o644); err != nil {
			return fmt.Errorf("bench: write files: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(f.PlotDir, SummaryPlot), summaryPlot(rep), 0o644); err != nil {
		return fmt.Errorf("bench: write files: %w", err)
	}
	saved := map[string]string{}
	for _, name := range []string{TickFile, EmulatorTickFile} {
		out, err := os.ReadFile(filepath.Join(f.PlotDir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("bench: write files: %w", err)
		}
		saved[name] = string(out)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, rep, Document{Command: f.Command, PlotDir: filepath.ToSlash(rel), Tick: saved[TickFile], EmulatorTick: saved[EmulatorTickFile]}); err != nil {
		return err
	}
	if err := os.WriteFile(f.Markdown, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: write files: %w", err)
	}
	return nil
}
