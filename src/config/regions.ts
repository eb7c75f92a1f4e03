/**
 * The AWS regions an environment may choose, with the availability zone names each one offers.
 *
 * Kept as data so that a typo in a region or AZ fails validation offline, before any stack exists
 * (no AWS call is made at synth time). AZ letters map to physical zones per account; some accounts
 * cannot use every letter listed (for example ap-northeast-1b, us-west-1a), and `terraform plan`
 * then says so. Add a region here when a team needs one.
 */
export const REGION_AZS: Readonly<Record<string, readonly string[]>> = {
  "ap-northeast-2": ["a", "b", "c", "d"], // Seoul, the home region
  "ap-northeast-1": ["a", "c", "d"], // Tokyo
  "ap-northeast-3": ["a", "b", "c"], // Osaka
  "ap-southeast-1": ["a", "b", "c"], // Singapore
  "ap-southeast-2": ["a", "b", "c"], // Sydney
  "ap-south-1": ["a", "b", "c"], // Mumbai
  "ap-east-1": ["a", "b", "c"], // Hong Kong
  "ca-central-1": ["a", "b", "d"],
  "eu-central-1": ["a", "b", "c"],
  "eu-north-1": ["a", "b", "c"],
  "eu-west-1": ["a", "b", "c"],
  "eu-west-2": ["a", "b", "c"],
  "eu-west-3": ["a", "b", "c"],
  "sa-east-1": ["a", "b", "c"],
  "us-east-1": ["a", "b", "c", "d", "e", "f"],
  "us-east-2": ["a", "b", "c"],
  "us-west-1": ["a", "b", "c"],
  "us-west-2": ["a", "b", "c", "d"],
};

/**
 * What people call each region, first the name the AWS console shows: a `region: seoul` is
 * answered with "did you mean ap-northeast-2 (Seoul)?".
 */
export const REGION_PLACES: Readonly<Record<string, readonly string[]>> = {
  "ap-northeast-2": ["Seoul", "Korea"],
  "ap-northeast-1": ["Tokyo"],
  "ap-northeast-3": ["Osaka"],
  "ap-southeast-1": ["Singapore"],
  "ap-southeast-2": ["Sydney"],
  "ap-south-1": ["Mumbai"],
  "ap-east-1": ["Hong Kong"],
  "ca-central-1": ["Canada Central", "Canada", "Montreal"],
  "eu-central-1": ["Frankfurt"],
  "eu-north-1": ["Stockholm"],
  "eu-west-1": ["Ireland", "Dublin"],
  "eu-west-2": ["London"],
  "eu-west-3": ["Paris"],
  "sa-east-1": ["Sao Paulo", "São Paulo"],
  "us-east-1": ["N. Virginia", "Virginia"],
  "us-east-2": ["Ohio"],
  "us-west-1": ["N. California", "California"],
  "us-west-2": ["Oregon"],
};

/** A region code with its place name, as the console shows it: `ap-northeast-2 (Seoul)`. */
export function regionLabel(region: string): string {
  const place = REGION_PLACES[region]?.[0];
  return place ? `${region} (${place})` : region;
}

/** The region a place name means (`seoul`, `Hong Kong`, `hongkong`), ignoring case, spaces and punctuation. */
export function regionOfPlace(input: string): string | undefined {
  const key = (text: string) =>
    text
      .normalize("NFD")
      .replace(/[^A-Za-z]/g, "")
      .toLowerCase();
  const wanted = key(input);
  return Object.keys(REGION_PLACES).find((region) => REGION_PLACES[region].some((place) => key(place) === wanted));
}

/** Every region name this project accepts, home region first. */
export const REGIONS = Object.keys(REGION_AZS) as [string, ...string[]];

/** The full AZ names of a region, e.g. `ap-northeast-2a`; empty for an unknown region. */
export function availabilityZonesOf(region: string): string[] {
  return (REGION_AZS[region] ?? []).map((letter) => `${region}${letter}`);
}

/** The letter that ends an AZ name (`ap-northeast-2c` -> `c`), used for stable ids and names. */
export function azSuffix(availabilityZone: string): string {
  const suffix = availabilityZone.slice(-1);
  if (!/^[a-z]$/.test(suffix)) {
    throw new Error(`azSuffix: "${availabilityZone}" does not end in an availability zone letter`);
  }
  return suffix;
}

/** The city (or area) each region serves, as the AWS console names it, for summaries and docs. */
export const REGION_CITIES: Readonly<Record<string, string>> = {
  "ap-northeast-2": "Seoul",
  "ap-northeast-1": "Tokyo",
  "ap-northeast-3": "Osaka",
  "ap-southeast-1": "Singapore",
  "ap-southeast-2": "Sydney",
  "ap-south-1": "Mumbai",
  "ap-east-1": "Hong Kong",
  "ca-central-1": "Canada Central",
  "eu-central-1": "Frankfurt",
  "eu-north-1": "Stockholm",
  "eu-west-1": "Ireland",
  "eu-west-2": "London",
  "eu-west-3": "Paris",
  "sa-east-1": "São Paulo",
  "us-east-1": "N. Virginia",
  "us-east-2": "Ohio",
  "us-west-1": "N. California",
  "us-west-2": "Oregon",
};

/** `ap-northeast-2 Seoul`: a region with the city it serves. */
export function regionWithCity(region: string): string {
  const city = REGION_CITIES[region];
  return city ? `${region} ${city}` : region;
}
