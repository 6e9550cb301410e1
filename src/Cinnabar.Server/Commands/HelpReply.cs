using Cinnabar.Server.Network;

namespace Cinnabar.Server.Commands;

/// <summary>addReplyHelp: the "&lt;CMD&gt; &lt;subcommand&gt; ..." header, the lines, then the HELP footer, as status replies.</summary>
public static class HelpReply
{
    public static void Write(Client c, string unused, string[] lines)
    {
        string cmd = c.ArgString(0).ToUpperInvariant();
        c.Reply.ArrayHeader(lines.Length + 3);
        c.Reply.Simple($"{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        foreach (var l in lines) c.Reply.Simple(l);
        c.Reply.Simple("HELP");
        c.Reply.Simple("    Prints this help.");
    }
}
