package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteHTML writes the report as one self-contained HTML page: a summary,
// the latency-percentile curve and latency over time as inline SVG. It loads
// nothing from the network.
func (rep *Report) WriteHTML(w io.Writer) error {
	var text strings.Builder
	rep.WriteText(&text)
	data := struct {
		Title    string
		Text     string
		Curve    template.HTML
		Timeline template.HTML
	}{
		Title:    fmt.Sprintf("cifbridge load — %d sessions, %s loop, %s", rep.Config.Sessions, rep.Config.Model, rep.Started.Format("2006-01-02 15:04:05Z")),
		Text:     text.String(),
		Curve:    template.HTML(percentileSVG(rep.Percentiles)),
		Timeline: template.HTML(timelineSVG(rep.Timeline)),
	}
	return htmlPage.Execute(w, data)
}

var htmlPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:13px}
svg{background:#fff;border:1px solid #ddd;margin:.5em 0}
svg text{font-size:11px;fill:#444;font-family:system-ui,sans-serif}
</style></head><body>
<h1>{{.Title}}</h1>
<h2>Latency by percentile</h2>
<p>Latency from the scheduled send time (coordinated omission corrected); the x axis spreads the tail as 1/(1−p).</p>
{{.Curve}}
<h2>Latency over time</h2>
<p>Per second of the measured phase: p50, p99 and max of the answers in that second.</p>
{{.Timeline}}
<h2>Summary</h2>
<pre>{{.Text}}</pre>
</body></html>
`))

const (
	svgW, svgH             = 900, 320
	padL, padR, padT, padB = 70, 20, 20, 40
)

// niceMax rounds v up to 1, 2 or 5 × 10^k.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func percentileSVG(pts []PercentilePoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, svgW, svgH, svgW, svgH)
	if len(pts) == 0 {
		b.WriteString(`<text x="20" y="40">no measured answers</text></svg>`)
		return b.String()
	}
	const maxX = 5.0 // log10(1/(1-0.99999))
	xOf := func(p float64) float64 {
		q := p / 100
		v := maxX
		if q < 1 {
			v = math.Min(maxX, math.Log10(1/(1-q)))
		}
		return padL + v/maxX*(svgW-padL-padR)
	}
	var top float64
	for _, p := range pts {
		top = math.Max(top, float64(p.ValueUs)/1000)
	}
	top = niceMax(top)
	yOf := func(ms float64) float64 { return svgH - padB - ms/top*(svgH-padT-padB) }
	axes(&b, top, yOf)
	for i, lbl := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"} {
		x := padL + float64(i)/maxX*(svgW-padL-padR)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`,
			x, padT, x, svgH-padB, x, svgH-padB+16, lbl)
	}
	b.WriteString(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="`)
	for _, p := range pts {
		fmt.Fprintf(&b, "%.1f,%.1f ", xOf(p.Percentile), yOf(float64(p.ValueUs)/1000))
	}
	b.WriteString(`"/>`)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">percentile</text></svg>`, (svgW+padL)/2, svgH-6)
	return b.String()
}

func axes(b *strings.Builder, top float64, yOf func(float64) float64) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, padL, padT, padL, svgH-padB)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, padL, svgH-padB, svgW-padR, svgH-padB)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		y := yOf(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, y, svgW-padR, y, padL-6, y+4, fmtMs(v))
	}
}

func timelineSVG(tl []TimelinePoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, svgW, svgH, svgW, svgH)
	if len(tl) == 0 {
		b.WriteString(`<text x="20" y="40">the measured phase was shorter than one second</text></svg>`)
		return b.String()
	}
	var top, tmax float64
	for _, p := range tl {
		top = math.Max(top, float64(p.MaxUs)/1000)
		tmax = math.Max(tmax, p.T)
	}
	top = niceMax(top)
	tmax = math.Max(tmax, 1)
	yOf := func(ms float64) float64 { return svgH - padB - ms/top*(svgH-padT-padB) }
	xOf := func(t float64) float64 { return padL + t/tmax*(svgW-padL-padR) }
	axes(&b, top, yOf)
	for i := 0; i <= 5; i++ {
		t := tmax * float64(i) / 5
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0fs</text>`, xOf(t), svgH-padB+16, t)
	}
	series := []struct {
		name, color string
		v           func(TimelinePoint) int64
	}{
		{"max", "#d62728", func(p TimelinePoint) int64 { return p.MaxUs }},
		{"p99", "#ff7f0e", func(p TimelinePoint) int64 { return p.P99Us }},
		{"p50", "#1f77b4", func(p TimelinePoint) int64 { return p.P50Us }},
	}
	for i, s := range series {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, s.color)
		for _, p := range tl {
			fmt.Fprintf(&b, "%.1f,%.1f ", xOf(p.T), yOf(float64(s.v(p))/1000))
		}
		b.WriteString(`"/>`)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" style="fill:%s">%s</text>`, svgW-padR-40, padT+14*(i+1), s.color, s.color, s.name)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds into the measured phase</text></svg>`, (svgW+padL)/2, svgH-6)
	return b.String()
}
