using Cinnabar.Server.Scripting;

namespace Cinnabar.Server;

/// <summary>The server's scripting state (Scripting/), and the BUSY error while a script runs too long.</summary>
public sealed partial class CinnabarServer
{
    ScriptingState scripting;
    public ScriptingState Scripting => scripting ??= new ScriptingState(this);

    /// <summary>Set while a script is past busy-reply-threshold: what other clients' commands get.</summary>
    public string BusyScriptError;
}
