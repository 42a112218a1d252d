package eligibility

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Matching event topics against the rulebook's vocabularies (RULES.md,
// "Classification, harder to fool"). A topic is free text; a name that only
// equals a prohibited topic is easy to dodge ("War in X"), so each
// prohibited topic has a list of words and phrases, and a topic whose
// lower-cased words contain one, in order, is that topic. A vocabulary term
// also matches its plural with a trailing "s" or "es" ("slots"). The
// outcome_controllable vocabulary (an athlete's injury or conduct,
// officiating) turns that gambling indicator on.

// MaxVocabularyTerms bounds each vocabulary list.
const MaxVocabularyTerms = 200

// vocabulary is one prohibited topic's terms, each a list of lower-case
// words.
type vocabulary struct {
	topic string
	terms [][]string
}

// topicWords splits text into lower-case words of letters and digits.
func topicWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// wordMatches reports whether a topic word is the term's word or its plural.
func wordMatches(word, term string) bool {
	if word == term {
		return true
	}
	rest, ok := strings.CutPrefix(word, term)
	return ok && (rest == "s" || rest == "es")
}

// containsTerm reports whether words contain term's words, consecutively.
func containsTerm(words, term []string) bool {
	for i := 0; i+len(term) <= len(words); i++ {
		match := true
		for j, t := range term {
			if !wordMatches(words[i+j], t) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// prohibitedMatch finds the prohibited topic an event topic names: the
// topic itself (normalised), or a term of its vocabulary among the topic's
// words. term is the vocabulary term matched, empty for the topic itself.
func (rb *Rulebook) prohibitedMatch(topic string) (name, term string, ok bool) {
	if topic == "" {
		return "", "", false
	}
	if n := normalizeTopic(topic); slices.Contains(rb.prohibitedTopics, n) {
		return n, "", true
	}
	words := topicWords(topic)
	for _, v := range rb.vocabulary {
		for _, t := range v.terms {
			if containsTerm(words, t) {
				return v.topic, strings.Join(t, " "), true
			}
		}
	}
	return "", "", false
}

// controllableTerm finds a term of the outcome_controllable vocabulary in
// an event topic.
func (rb *Rulebook) controllableTerm(topic string) (string, bool) {
	if topic == "" {
		return "", false
	}
	words := topicWords(topic)
	for _, t := range rb.controllable {
		if containsTerm(words, t) {
			return strings.Join(t, " "), true
		}
	}
	return "", false
}

// prohibitedVocabularyYAML is one classification.prohibited_vocabulary
// entry.
type prohibitedVocabularyYAML struct {
	Topic string   `yaml:"topic"`
	Terms []string `yaml:"terms"`
}

// controllableVocabularyYAML is classification.outcome_controllable_vocabulary.
type controllableVocabularyYAML struct {
	Terms  []string `yaml:"terms"`
	Source string   `yaml:"source"`
}

// vocabularies validates the classification's vocabularies: each topic one
// of prohibited_topics, once; each term 1 to 8 words.
func (v *validator) vocabularies(rb *Rulebook, c *classificationYAML) {
	if c == nil {
		return
	}
	if !v.listLen("classification.prohibited_vocabulary", len(c.ProhibitedVocabulary)) {
		return
	}
	for i, pv := range c.ProhibitedVocabulary {
		p := fmt.Sprintf("classification.prohibited_vocabulary[%d]", i)
		topic := normalizeTopic(pv.Topic)
		if !slices.Contains(rb.prohibitedTopics, topic) {
			v.fail(p+".topic", "%q is not one of prohibited_topics", pv.Topic)
			continue
		}
		if slices.ContainsFunc(rb.vocabulary, func(x vocabulary) bool { return x.topic == topic }) {
			v.fail(p+".topic", "%q has a vocabulary already", pv.Topic)
			continue
		}
		rb.vocabulary = append(rb.vocabulary, vocabulary{topic: topic, terms: v.terms(p+".terms", pv.Terms)})
	}
	if cv := c.OutcomeControllableVocabulary; cv != nil {
		rb.controllable = v.terms("classification.outcome_controllable_vocabulary.terms", cv.Terms)
		rb.controllableSource = v.source("classification.outcome_controllable_vocabulary.source", cv.Source)
	}
}

// terms validates a vocabulary's terms into their words.
func (v *validator) terms(path string, list []string) [][]string {
	if len(list) > MaxVocabularyTerms {
		v.fail(path, "has %d terms, above the limit of %d", len(list), MaxVocabularyTerms)
		return nil
	}
	var out [][]string
	for i, t := range list {
		words := topicWords(t)
		if len(words) == 0 || len(words) > 8 || strings.Join(words, " ") != strings.TrimSpace(t) {
			v.fail(fmt.Sprintf("%s[%d]", path, i), "%q must be 1 to 8 lower-case words of letters and digits, one space apart", t)
			continue
		}
		out = append(out, words)
	}
	return out
}
