/** The PKS layer: a network profile and a cluster, both driven by pksctl through the command provider. */
export * from "./networkProfile";
export * from "./cluster";
export * from "./connection";
