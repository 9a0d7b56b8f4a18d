import { describe, expect, it } from 'vitest';
import { ATTRIBUTES, generateKnowledgeBase, generateQuestion, RELATIONS } from '../../../src/envs/search/kb.js';
import { normalizeAnswer } from '../../../src/envs/search/verify.js';

describe('generateKnowledgeBase', () => {
  const kb = generateKnowledgeBase({ seed: 3, size: 1500, distractors: 0.4 });

  it('is deterministic for a seed and differs across seeds', () => {
    const again = generateKnowledgeBase({ seed: 3, size: 1500, distractors: 0.4 });
    expect(again.articles).toEqual(kb.articles);
    expect(generateKnowledgeBase({ seed: 4, size: 1500, distractors: 0.4 }).articles[0]).not.toEqual(kb.articles[0]);
  });

  it('has one article per entity, unique names, and relations of the declared kinds', () => {
    expect(kb.entities).toHaveLength(1500);
    expect(kb.articles.map((article) => article.id)).toEqual(kb.entities.map((entity) => entity.id));
    expect(new Set(kb.entities.map((entity) => entity.name)).size).toBe(1500);
    for (const entity of kb.entities) {
      expect(Object.keys(entity.relations).sort()).toEqual(Object.keys(RELATIONS[entity.kind]).sort());
      for (const [relation, target] of Object.entries(entity.relations)) {
        expect(kb.byId.get(target)?.kind).toBe(RELATIONS[entity.kind][relation]);
        expect(target).not.toBe(entity.id);
      }
      expect(Object.keys(entity.attributes).sort()).toEqual([...ATTRIBUTES[entity.kind]].sort());
    }
  });

  it('writes every fact of an entity into its article, and links name real entities that appear in the text', () => {
    for (const [index, entity] of kb.entities.entries()) {
      const article = kb.articles[index]!;
      expect(article.title).toBe(entity.name);
      for (const value of Object.values(entity.attributes)) expect(article.text).toContain(value);
      for (const target of Object.values(entity.relations)) {
        expect(article.text).toContain(kb.byId.get(target)!.name);
        expect(article.links).toContain(target);
      }
      for (const link of article.links) expect(article.text).toContain(kb.byId.get(link)!.name);
      expect(new Set(article.links).size).toBe(article.links.length);
    }
  });

  it('makes similar-named twins at about the distractor density, each article naming the other', () => {
    const twins = kb.entities.filter((entity) => entity.twinOf);
    expect(twins.length / kb.entities.length).toBeGreaterThan(0.3);
    expect(twins.length / kb.entities.length).toBeLessThan(0.5);
    for (const twin of twins.slice(0, 100)) {
      const original = kb.byId.get(twin.twinOf!)!;
      expect(original.kind).toBe(twin.kind);
      expect(kb.articles.find((article) => article.id === twin.id)!.text).toContain(
        `Not to be confused with ${original.name},`,
      );
    }
    expect(generateKnowledgeBase({ seed: 3, size: 500, distractors: 0 }).entities.some((entity) => entity.twinOf)).toBe(
      false,
    );
  });

  it('rejects sizes and densities out of range', () => {
    expect(() => generateKnowledgeBase({ size: 10 })).toThrow(
      'generateKnowledgeBase: size must be an integer from 40 to 200000, got 10',
    );
    expect(() => generateKnowledgeBase({ distractors: 1.5 })).toThrow(
      'generateKnowledgeBase: distractors must be a number from 0 to 1, got 1.5',
    );
  });

  it('scales to 100,000 unique names', () => {
    const large = generateKnowledgeBase({ seed: 1, size: 100_000 });
    expect(new Set(large.entities.map((entity) => entity.name)).size).toBe(100_000);
  });
});

describe('generateQuestion', () => {
  const kb = generateKnowledgeBase({ seed: 0, size: 800 });

  it('follows a chain of distinct supporting articles whose last one states the answer', () => {
    for (let hops = 1; hops <= 4; hops++) {
      for (let seed = 0; seed < 100; seed++) {
        const question = generateQuestion(kb, { seed, hops });
        expect(question.hops).toBe(hops);
        expect(question.supporting).toHaveLength(hops);
        expect(new Set(question.supporting).size).toBe(hops);
        expect(question.question).toContain(kb.byId.get(question.supporting[0]!)!.name);
        question.chain.forEach((step, index) => {
          const entity = kb.byId.get(step.entity)!;
          const article = kb.articles.find((candidate) => candidate.id === step.entity)!;
          const next = index + 1 < hops ? kb.byId.get(question.supporting[index + 1]!)!.name : question.answers[0]!;
          if (index + 1 < hops) expect(entity.relations[step.field]).toBe(question.supporting[index + 1]);
          expect(article.text).toContain(next);
        });
      }
    }
  });

  it('never puts the answer in the question, and is deterministic', () => {
    for (let seed = 0; seed < 400; seed++) {
      const question = generateQuestion(kb, { seed, hops: 1 + (seed % 4) });
      expect(` ${normalizeAnswer(question.question)} `).not.toContain(` ${normalizeAnswer(question.answers[0]!)} `);
      expect(generateQuestion(kb, { seed, hops: 1 + (seed % 4) })).toEqual(question);
    }
  });

  it('reads as a nested question', () => {
    const question = generateQuestion(kb, { seed: 5, hops: 3 });
    expect(question.question).toMatch(/^(In which|Which|Who|What) .* of .*\?$/);
  });

  it('rejects hops out of range', () => {
    expect(() => generateQuestion(kb, { seed: 0, hops: 5 })).toThrow(
      'generateQuestion: hops must be an integer from 1 to 4, got 5',
    );
  });
});
