/**
 * `web/shop-v0`: buy a product that meets a description ("a red shirt in size M costing at most $20 with a
 * rating of at least 4") and ship it to the given address. Verified from the order record the checkout
 * writes: exactly one line, a product that meets every constraint, the right size and quantity, and the
 * shipping details as given.
 */
import type { Action, Oracle } from '../env.js';
import type { Verdict } from '../task.js';
import type { Rng } from '../../core/rng.js';
import type { WebSubmission, WebTask, WebTaskSuite } from './env.js';
import {
  BRANDS,
  CATEGORIES,
  COLOURS,
  formatPrice,
  generateCatalogue,
  makeProduct,
  type Order,
  type Product,
  SHIPPING,
  type ShippingDetails,
  type ShopState,
  shopSite,
} from './sites/shop.js';
import { findElement, observedUrl, parseTree } from './tree.js';

export interface ShopConstraints {
  category: string;
  colour: string;
  size?: string;
  /** Cents, inclusive. */
  maxPrice?: number;
  minRating?: number;
  quantity: number;
}

export interface ShopTask extends WebTask {
  catalogue: Product[];
  constraints: ShopConstraints;
  details: ShippingDetails;
  /** A product that meets the constraints (the oracle buys it; any other that meets them counts too). */
  target: Product;
}

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Niklaus',
  'Radia',
  'Tim',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Wirth',
  'Perlman',
  'Lee',
];
const STREETS = ['Mill Road', 'Station Street', 'Harbour Lane', 'Elm Avenue', 'Kings Row', 'Quarry Hill'];
const CITIES = ['Springfield', 'Riverton', 'Lakeside', 'Fairview', 'Greenwood', 'Oakridge'];

/** Whether a product meets the constraints (size: in stock). */
export function meetsConstraints(product: Product, constraints: ShopConstraints): boolean {
  return (
    product.category === constraints.category &&
    product.colour === constraints.colour &&
    (constraints.size === undefined || product.sizes.includes(constraints.size)) &&
    (constraints.maxPrice === undefined || product.price <= constraints.maxPrice) &&
    (constraints.minRating === undefined || product.rating >= constraints.minRating)
  );
}

/** The task sentence: what to buy. */
export function describeConstraints(constraints: ShopConstraints): string {
  const noun = CATEGORIES[constraints.category]!.noun.toLowerCase();
  const parts = [
    `${constraints.quantity > 1 ? `${constraints.quantity} of the same` : 'a'} ${constraints.colour} ${noun}`,
  ];
  if (constraints.size) parts.push(`in size ${constraints.size}`);
  if (constraints.maxPrice !== undefined) parts.push(`costing at most ${formatPrice(constraints.maxPrice)}`);
  if (constraints.minRating !== undefined) parts.push(`with a rating of at least ${constraints.minRating.toFixed(1)}`);
  return parts.join(' ');
}

/** The search URL with the task's constraints as filters (what a careful shopper would set). */
export function searchPath(constraints: ShopConstraints): string {
  const query = new URLSearchParams({ category: constraints.category, colour: constraints.colour });
  if (constraints.size) query.set('size', constraints.size);
  if (constraints.maxPrice !== undefined) query.set('max_price', (constraints.maxPrice / 100).toFixed(2));
  if (constraints.minRating !== undefined) query.set('min_rating', String(constraints.minRating));
  return `/search?${query.toString()}`;
}

export const shopSuite: WebTaskSuite<ShopTask, ShopState> = {
  site: shopSite,
  difficulties: [1, 5],

  generate(rng: Rng, difficulty: number): ShopTask {
    const catalogue = generateCatalogue(rng, 40 + 20 * difficulty);
    const categories = Object.keys(CATEGORIES).filter((key) => difficulty < 2 || CATEGORIES[key]!.sizes.length > 1);
    const category = rng.pick(categories);
    const info = CATEGORIES[category]!;
    const colour = rng.pick(COLOURS);
    const size = difficulty >= 2 ? rng.pick(info.sizes) : undefined;
    const price = Math.round(rng.int(info.price[0], Math.floor((info.price[0] + info.price[1]) / 2)) / 50) * 50 - 1;
    const rating = rng.int(40, 50) / 10;
    const constraints: ShopConstraints = {
      category,
      colour,
      size,
      maxPrice: difficulty >= 3 ? Math.ceil((price + 1) / 500) * 500 : undefined,
      minRating: difficulty >= 4 ? Math.floor(rating * 2) / 2 : undefined,
      quantity: difficulty >= 5 ? 2 : 1,
    };
    // Plant the target and near misses that break one constraint each, then shuffle them in.
    const taken = new Set(catalogue.map((product) => product.name));
    const name = () => {
      for (;;) {
        const candidate = `${rng.pick(BRANDS)} ${rng.pick(info.materials)} ${info.noun}`;
        if (taken.has(candidate)) continue;
        taken.add(candidate);
        return candidate;
      }
    };
    const target = makeProduct(rng, 0, name(), category, colour, {
      price,
      rating,
      sizes: size ? [...new Set([size, ...info.sizes.filter(() => rng.chance(0.5))])] : info.sizes,
    });
    const misses: Product[] = [
      makeProduct(rng, 0, name(), category, rng.pick(COLOURS.filter((c) => c !== colour))),
      ...(constraints.maxPrice !== undefined
        ? [
            makeProduct(rng, 0, name(), category, colour, {
              price: constraints.maxPrice + rng.int(1, 20) * 100 - 1,
              rating,
            }),
          ]
        : []),
      ...(constraints.minRating !== undefined
        ? [
            makeProduct(rng, 0, name(), category, colour, {
              price,
              rating: Math.round(constraints.minRating * 10 - rng.int(1, 10)) / 10,
            }),
          ]
        : []),
      ...(size
        ? [
            makeProduct(rng, 0, name(), category, colour, {
              price,
              rating,
              sizes: info.sizes.filter((s) => s !== size),
            }),
          ]
        : []),
    ];
    const mixed = rng
      .shuffle([...catalogue, target, ...misses])
      .map((product, index) => ({ ...product, id: index + 1 }));
    const planted = mixed.find((product) => product.name === target.name)!;
    const first = rng.pick(FIRST);
    const last = rng.pick(LAST);
    const details: ShippingDetails = {
      name: `${first} ${last}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}@example.org`,
      address: `${rng.int(1, 99)} ${rng.pick(STREETS)}`,
      city: rng.pick(CITIES),
      postcode: String(rng.int(10000, 99999)),
      shipping: difficulty >= 5 ? 'express' : 'standard',
    };
    const quantity = constraints.quantity > 1 ? ` (quantity ${constraints.quantity})` : '';
    const prompt =
      `Buy ${describeConstraints(constraints)}${quantity} in the shop, with ${details.shipping} shipping to ` +
      `${details.name}, ${details.email}, ${details.address}, ${details.city}, postcode ${details.postcode}. ` +
      `Buy nothing else; the episode ends when the order is placed.`;
    return {
      prompt,
      answer: `${planted.name}${size ? ` (size ${size})` : ''}`,
      difficulty,
      kind: category,
      startPath: '/',
      catalogue: mixed,
      constraints,
      details,
      target: planted,
    };
  },

  createState(task: ShopTask): ShopState {
    return { catalogue: task.catalogue, cart: [], orders: [] };
  },

  finished(_task: ShopTask, state: ShopState): boolean {
    return state.orders.length > 0;
  },

  verify(task: ShopTask, submission: WebSubmission<ShopState>): Verdict {
    const order: Order | undefined = submission.state.orders.at(-1);
    if (!order) return { score: 0, success: false, feedback: 'No order was placed.' };
    const line = order.items.length === 1 ? order.items[0]! : undefined;
    const product = line ? task.catalogue.find((p) => p.id === line.productId) : undefined;
    const expected = task.details;
    const checks: [boolean, string][] = [
      [order.items.length === 1, `the order has ${order.items.length} lines, not 1`],
      [
        product !== undefined && meetsConstraints(product, task.constraints),
        'the product does not meet the description',
      ],
      [task.constraints.size === undefined || line?.size === task.constraints.size, 'the size is wrong'],
      [line?.quantity === task.constraints.quantity, 'the quantity is wrong'],
      [same(order.name, expected.name) && same(order.email, expected.email), 'the name or email is wrong'],
      [
        same(order.address, expected.address) &&
          same(order.city, expected.city) &&
          order.postcode === expected.postcode,
        'the address is wrong',
      ],
      [order.shipping === expected.shipping, `the shipping is not ${expected.shipping}`],
    ];
    const failed = checks.filter(([ok]) => !ok).map(([, why]) => why);
    const score = (checks.length - failed.length) / checks.length;
    return failed.length === 0
      ? { score: 1, success: true, feedback: `Order ${order.number} is right.` }
      : {
          score: Math.round(score * 1000) / 1000,
          success: false,
          feedback: `Order ${order.number}: ${failed.join('; ')}.`,
        };
  },

  oracle(task: ShopTask): Oracle {
    const search = searchPath(task.constraints);
    const details = task.details;
    return {
      next(observation): Action {
        const url = observedUrl(observation.text);
        const tree = parseTree(observation.text);
        const click = (role: string | string[], name: string): Action | undefined => {
          const element = findElement(tree, role, name);
          return element ? { tool: 'click', args: { id: element.id } } : undefined;
        };
        // When a page is not as expected (a step timed out on a busy machine, say), start over from the search.
        const startOver: Action = { tool: 'goto', args: { path: search } };
        if (url.startsWith('/search')) {
          return (
            click('link', task.target.name) ?? click('link', 'Next page') ?? { tool: 'goto', args: { path: search } }
          );
        }
        if (url === `/product/${task.target.id}`) {
          const size = findElement(tree, 'combobox', 'Size');
          if (size && task.constraints.size && size.value !== task.constraints.size)
            return { tool: 'select', args: { id: size.id, option: task.constraints.size } };
          if (size && !task.constraints.size && size.value === 'Choose a size')
            return { tool: 'select', args: { id: size.id, option: size.options![1]! } };
          const quantity = findElement(tree, 'spinbutton', 'Quantity');
          if (quantity && quantity.value !== String(task.constraints.quantity))
            return { tool: 'type', args: { id: quantity.id, text: String(task.constraints.quantity) } };
          return click('button', 'Add to cart') ?? startOver;
        }
        if (url === '/cart' && observation.text.includes(task.target.name))
          return click('link', 'Proceed to checkout') ?? startOver;
        if (url === '/checkout') {
          const fields: [string, string][] = [
            ['Full name', details.name],
            ['Email', details.email],
            ['Street address', details.address],
            ['City', details.city],
            ['Postcode', details.postcode],
          ];
          for (const [label, value] of fields) {
            const field = findElement(tree, 'textbox', label);
            if (field && field.value !== value) return { tool: 'type', args: { id: field.id, text: value } };
          }
          const radio = tree.find((e) => e.role === 'radio' && e.name.startsWith(SHIPPING[details.shipping]!.label));
          if (radio && !radio.checked) return { tool: 'check', args: { id: radio.id } };
          return click('button', 'Place order') ?? startOver;
        }
        return startOver;
      },
    };
  },
};

function same(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}
