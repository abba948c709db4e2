# `lib.hm.assertions`: assertions that modules written for Home Manager put
# in `assertions`.
{ lib }:
{
  # An assertion that holds when `pkgs` is built for one of `platforms`
  # (system doubles such as "x86_64-linux"); `module` names the module in
  # the message.
  assertPlatform = module: pkgs: platforms: {
    assertion = builtins.elem pkgs.stdenv.hostPlatform.system platforms;
    message = ''
      ${module} cannot be used on ${pkgs.stdenv.hostPlatform.system}; it supports only:
      ${lib.concatMapStringsSep "\n" (p: "  - ${p}") (lib.naturalSort platforms)}'';
  };
}
